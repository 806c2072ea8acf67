//! `AssumeRoleWithSAML` and `AssumeRoleWithOIDC`: anonymous calls whose assertion or token is
//! the caller's identity. Each is verified first (signature, issuer, audience, times), then the
//! role's trust policy alone decides, with the verified claims as condition keys.

use std::time::Duration;

use rampart_federation::oidc::{OidcProviderConfig, VerifiedOidcToken};
use rampart_federation::saml::{self, SamlExpectations, VerifiedAssertion};
use rampart_model::{ProviderArn, ProviderKind, Timestamp};
use rampart_policy::{AssumeFlow, Caller, Context};
use rampart_store::StoreError;
use rampart_wire::ApiError;
use serde_json::json;

use super::assume::TrustRefusal;
use super::assume::{
    check_session_name, check_trust, duration, issue, load_role, parse_role_arn, session_policy,
    trust_context, Grant,
};
use super::token::Origin;
use crate::authz::denial;
use crate::call::{Call, Principal};
use crate::errors::store_error;
use crate::product::HandlerFuture;

/// `AuthenticationFail.*`: the assertion or token did not prove who the caller is.
fn authentication_fail(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message, 401)
}

/// The trust policy refused a verified federated identity: `AuthenticationFail.NoPermission`
/// (the code Alibaba answers for OIDC), with the same `AccessDeniedDetail` and sealed
/// diagnostic as any denial, so the role's owner can decode which condition failed.
fn trust_refused(
    call: &Call,
    provider_arn: &ProviderArn,
    role_arn: &str,
    refusal: &TrustRefusal,
    claims: &str,
) -> ApiError {
    // Sealed for the provider's account, which owns the role and can decode it.
    let as_owner = Principal::Federated {
        account_id: provider_arn.account_id.clone(),
        provider_arn: provider_arn.to_string(),
    };
    let inner = denial(
        &call.state.master_key,
        &as_owner,
        "sts:AssumeRole",
        role_arn,
        &refusal.decision,
        Some("AssumeRolePolicy"),
        Some(&format!("{claims}: {}", refusal.reasons_text())),
    );
    let mut error = ApiError::new(
        "AuthenticationFail.NoPermission",
        format!(
            "The trust policy of {role_arn} does not allow this identity ({claims}) to assume it: {}.",
            refusal.reasons_text()
        ),
        403,
    );
    if let Some(detail) = inner.access_denied_detail() {
        error = error.with_access_denied_detail(detail.clone());
    }
    error
}

fn provider_arn(
    call: &Call,
    param: &'static str,
    kind: ProviderKind,
) -> Result<ProviderArn, ApiError> {
    let text = call.required(param)?;
    match ProviderArn::parse(text) {
        Ok(arn) if arn.kind == kind => Ok(arn),
        _ => Err(ApiError::new(
            format!("InvalidParameter.{param}"),
            format!("The parameter {param} is wrongly formed: {text:?}."),
            400,
        )),
    }
}

/// `https://www.aliyun.com/SAML-Role/Attributes/RoleSessionName`: 2–32 of
/// `[A-Za-z0-9-_.@=,+]` (RAM's rule for SAML session names).
fn check_saml_session_name(name: &str) -> Result<(), ApiError> {
    let ok = (2..=32).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'=' | b',' | b'+')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidParameter.RoleSessionName",
            format!(
                "The RoleSessionName attribute of the assertion ({name:?}) must be 2 to 32 characters of letters, digits and - _ . @ = , +."
            ),
            400,
        ))
    }
}

pub fn assume_role_with_saml(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let provider_arn = provider_arn(call, "SAMLProviderArn", ProviderKind::Saml)?;
        let role_arn = parse_role_arn(call.required("RoleArn")?)?;
        let assertion_b64 = call.required("SAMLAssertion")?.to_owned();
        let policy = session_policy(call)?;

        let provider = match call
            .store
            .get_saml_provider(&provider_arn.account_id, &provider_arn.name)
            .await
        {
            Ok(p) => p,
            Err(StoreError::NotFound(_)) => {
                return Err(ApiError::new(
                    "EntityNotExist.SAMLProvider",
                    format!("Can not find SAML provider: {provider_arn}."),
                    404,
                ))
            }
            Err(e) => return Err(store_error(e)),
        };
        let verified = verify_for_provider(&call.state, call.now, assertion_b64, &provider).await?;
        let options = &call.state.options.sts;
        let wanted_provider = provider.arn();
        let wanted_role = role_arn.arn();
        let paired = verified.role_pairs().iter().any(|p| {
            p.role_arn.eq_ignore_ascii_case(&wanted_role)
                && p.provider_arn.eq_ignore_ascii_case(&wanted_provider)
        });
        if !paired {
            return Err(authentication_fail(
                "AuthenticationFail.SAMLAssertion.Invalid",
                format!(
                    "The assertion's Role attribute has no value pairing {wanted_role} with {wanted_provider}."
                ),
            ));
        }
        let session_name = verified
            .role_session_name()
            .ok_or_else(|| {
                authentication_fail(
                    "AuthenticationFail.SAMLAssertion.Invalid",
                    "The assertion has no RoleSessionName attribute.",
                )
            })?
            .to_owned();
        check_saml_session_name(&session_name)?;

        let role = load_role(call, &role_arn, "EntityNotExist.RoleArn").await?;
        let duration_secs = duration(call, i64::from(role.max_session_duration))?;
        let mut context = trust_context(call);
        saml_claims(&mut context, &verified);
        let caller = Caller::federated(provider_arn.account_id.as_str(), &wanted_provider);
        if let Err(refusal) = check_trust(&role, AssumeFlow::Saml, &caller, &context) {
            return Err(trust_refused(
                call,
                &provider_arn,
                &wanted_role,
                &refusal,
                &format!(
                    "saml:iss={}, saml:sub={}, saml:recipient={}",
                    verified.issuer, verified.subject, verified.recipient
                ),
            ));
        }

        // Only now is the assertion spent: a refused one can be corrected and retried (it was
        // never usable), an accepted one never again, on any node, until it could not verify
        // anyway.
        let until = verified.replay_cache_until(options.federation_skew_secs);
        let ttl = Duration::from_secs(
            u64::try_from(until.saturating_sub(call.now.unix_secs())).unwrap_or(0) + 1,
        );
        let replay_key = format!("saml-assertion:{wanted_provider}");
        let used = call
            .store
            .use_nonce(&replay_key, &verified.assertion_id, call.now, ttl)
            .await
            .map_err(store_error)?;
        if used == rampart_store::NonceUse::Replayed {
            return Err(authentication_fail(
                "AuthenticationFail.SAMLAssertion.Invalid",
                format!(
                    "The assertion {} was already used: each assertion gives one session.",
                    verified.assertion_id
                ),
            ));
        }

        let mut body = issue(
            call,
            Grant {
                role,
                session_name,
                policy,
                duration_secs,
                source_identity: None,
                mfa: false,
                origin: Origin::Saml,
                caller: wanted_provider,
            },
        )?;
        body.insert(
            "SAMLAssertionInfo".into(),
            json!({
                "Issuer": verified.issuer,
                "Recipient": verified.recipient,
                "Subject": verified.subject,
                "SubjectType": verified.subject_type(),
            }),
        );
        Ok(body)
    })
}

/// Verifies a SAML response against a provider's metadata and the server's expectations
/// (recipients, audiences, times): the one check behind `AssumeRoleWithSAML` and the
/// console's role-based SSO.
pub(crate) async fn verify_for_provider(
    state: &crate::state::State,
    now: Timestamp,
    assertion_b64: String,
    provider: &rampart_model::SamlProvider,
) -> Result<VerifiedAssertion, ApiError> {
    let metadata = saml::parse_encoded_metadata(&provider.encoded_metadata).map_err(|e| {
        authentication_fail(
            "AuthenticationFail.IDPMetadata.Invalid",
            format!("The metadata of {} cannot be used: {e}", provider.arn()),
        )
    })?;
    let options = &state.options.sts;
    let expect = SamlExpectations {
        recipients: options.saml_recipients.clone(),
        audiences: options.saml_audiences.clone(),
        now_unix_secs: now.unix_secs(),
        skew_secs: options.federation_skew_secs,
    };
    verify_saml(state, assertion_b64, metadata, expect).await
}

/// libxml2 and libxmlsec1 run on a blocking thread, one verification at a time: they keep
/// process-wide state, and SAML sign-ins are far too rare for the lock to matter.
async fn verify_saml(
    state: &crate::state::State,
    assertion_b64: String,
    metadata: saml::IdpMetadata,
    expect: SamlExpectations,
) -> Result<VerifiedAssertion, ApiError> {
    let lock = std::sync::Arc::clone(&state.saml_lock);
    let outcome = tokio::task::spawn_blocking(move || {
        let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        saml::verify_response(&assertion_b64, &metadata, &expect)
    })
    .await
    .map_err(|_| ApiError::internal_error())?;
    outcome.map_err(|e| authentication_fail(e.code(), e.to_string()))
}

fn saml_claims(context: &mut Context, verified: &VerifiedAssertion) {
    context.insert("saml:recipient", &verified.recipient);
    context.insert("saml:iss", &verified.issuer);
    context.insert("saml:sub", &verified.subject);
    context.insert("saml:sub_type", verified.subject_type());
    for audience in &verified.audiences {
        context.insert("saml:aud", audience);
    }
}

pub fn assume_role_with_oidc(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let provider_arn = provider_arn(call, "OIDCProviderArn", ProviderKind::Oidc)?;
        let role_arn = parse_role_arn(call.required("RoleArn")?)?;
        let token = call.required("OIDCToken")?;
        let session_name = call.required("RoleSessionName")?;
        check_session_name(session_name)?;
        let policy = session_policy(call)?;

        let provider = match call
            .store
            .get_oidc_provider(&provider_arn.account_id, &provider_arn.name)
            .await
        {
            Ok(p) => p,
            // Alibaba's observed answer for an unknown provider.
            Err(StoreError::NotFound(_)) => {
                return Err(ApiError::new(
                    "AuthenticationFail.NoPermission",
                    format!("Parameter OIDCProviderArn is not valid: no provider {provider_arn}."),
                    403,
                ))
            }
            Err(e) => return Err(store_error(e)),
        };
        let config = OidcProviderConfig {
            issuer_url: provider.issuer_url.clone(),
            fingerprints: provider.fingerprints.clone(),
            client_ids: provider.client_ids.clone(),
            issuance_limit: Duration::from_secs(u64::from(provider.issuance_limit_time) * 3600),
        };
        let verified = call
            .state
            .oidc
            .verify(&config, token, call.now.unix_secs())
            .await
            .map_err(|e| authentication_fail(e.code(), e.to_string()))?;

        let role = load_role(call, &role_arn, "EntityNotExist.Role").await?;
        let duration_secs = duration(call, i64::from(role.max_session_duration))?;
        let mut context = trust_context(call);
        oidc_claims(&mut context, &verified);
        let wanted_provider = provider.arn();
        let caller = Caller::federated(provider_arn.account_id.as_str(), &wanted_provider);
        let wanted_role = role_arn.arn();
        if let Err(refusal) = check_trust(&role, AssumeFlow::Oidc, &caller, &context) {
            return Err(trust_refused(
                call,
                &provider_arn,
                &wanted_role,
                &refusal,
                &format!(
                    "oidc:iss={}, oidc:aud={}, oidc:sub={}",
                    verified.issuer,
                    verified.audiences.join(","),
                    verified.subject
                ),
            ));
        }
        let mut body = issue(
            call,
            Grant {
                role,
                session_name: session_name.to_owned(),
                policy,
                duration_secs,
                source_identity: None,
                mfa: false,
                origin: Origin::Oidc,
                caller: wanted_provider,
            },
        )?;
        body.insert(
            "OIDCTokenInfo".into(),
            json!({
                "Issuer": verified.issuer,
                "Subject": verified.subject,
                "ClientIds": verified.audiences.join(","),
                "IssuanceTime": rfc3339(verified.issued_at),
                "ExpirationTime": rfc3339(verified.expires_at),
                "VerificationInfo": "Success",
            }),
        );
        Ok(body)
    })
}

fn oidc_claims(context: &mut Context, verified: &VerifiedOidcToken) {
    context.insert("oidc:iss", &verified.issuer);
    context.insert("oidc:sub", &verified.subject);
    for audience in &verified.audiences {
        context.insert("oidc:aud", audience);
    }
}

fn rfc3339(secs: i64) -> String {
    Timestamp::from_unix_secs(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}
