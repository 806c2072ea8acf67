//! SAML role-based SSO into the console (Alibaba's `/saml-role/sso`): an identity provider
//! posts a signed response (IdP-initiated, HTTP-POST binding); the person picks one of the
//! roles it offers and gets a console session as that role.
//!
//! The response is checked by the same code as `AssumeRoleWithSAML` — in fact the session is
//! made by calling `AssumeRoleWithSAML` through the dispatcher, so the signature, issuer,
//! recipient, audience, times, role pair, trust policy and replay checks, and the audit
//! event, are exactly the API's. Before the choice the response is verified against each
//! provider it names (names read from the unverified document only pick which metadata to
//! verify with; nothing else unverified is used).

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use rampart_model::{ProviderArn, ProviderKind};
use rampart_store::{SessionIdentity, StoreError};
use rampart_wire::ApiError;
use serde_json::Value;

use super::{
    complete, escape, field, form, network_allows, page, redirect, security_preference_of,
    set_cookie, unavailable, Attempt, Next, LOGIN_COOKIE, SESSION_COOKIE,
};
use crate::call::Principal;
use crate::dispatch::Api;
use crate::http::{HttpRequest, HttpResponse};

const SSO_PATH: &str = "/saml-role/sso";
const SESSION_DURATION_ATTRIBUTE: &str =
    "https://www.aliyun.com/SAML-Role/Attributes/SessionDuration";
/// A SAML response larger than this is not a sign-in.
const MAX_RESPONSE: usize = 256 * 1024;

pub(super) async fn route(api: &Api, req: &HttpRequest) -> Option<HttpResponse> {
    match (req.raw.method.as_str(), req.raw.path.as_str()) {
        ("GET", "/saml-role/sp-metadata.xml") => Some(sp_metadata(api, req)),
        ("POST", SSO_PATH) => Some(sso(api, req).await),
        (_, "/saml-role/sp-metadata.xml" | SSO_PATH) => Some(page(
            405,
            "Not allowed",
            "<p>That method is not used here.</p>",
            Vec::new(),
        )),
        _ => None,
    }
}

/// This server as a SAML service provider: the entity ID assertions must name as their
/// audience (the first configured audience; Alibaba's by default) and the ACS URL at which
/// this server was reached.
fn sp_metadata(api: &Api, req: &HttpRequest) -> HttpResponse {
    let options = &api.state().options.sts;
    let entity_id = options
        .saml_audiences
        .first()
        .cloned()
        .unwrap_or_else(|| "urn:alibaba:cloudcomputing".to_owned());
    let scheme = if req.secure { "https" } else { "http" };
    let host = req.raw.header("host").unwrap_or("localhost");
    let acs = format!("{scheme}://{host}{SSO_PATH}");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{}\">\n\
         \x20 <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
         \x20   <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n\
         \x20   <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"{}\" index=\"1\" isDefault=\"true\"/>\n\
         \x20 </md:SPSSODescriptor>\n\
         </md:EntityDescriptor>\n",
        escape(&entity_id),
        escape(&acs)
    );
    HttpResponse {
        status: 200,
        content_type: "application/samlmetadata+xml",
        body,
        headers: vec![("cache-control", "no-store".to_owned())],
    }
}

fn refused(status: u16, message: &str) -> HttpResponse {
    page(
        status,
        "SSO refused",
        &format!(
            "<p role=\"alert\" class=\"error\" id=\"sso-error\">{}</p>\
             <p>Sign in again through your identity provider.</p>",
            escape(message)
        ),
        Vec::new(),
    )
}

/// SAML provider ARNs named anywhere in the (unverified) response: candidates for which
/// metadata to verify it with.
fn candidate_providers(xml: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = xml;
    while let Some(at) = rest.find("acs:ram::") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c == ',' || c == '<' || c == '"' || c.is_whitespace())
            .unwrap_or(tail.len());
        let text = &tail[..end];
        if let Ok(arn) = ProviderArn::parse(text) {
            if arn.kind == ProviderKind::Saml && found.len() < 8 {
                found.insert(arn.to_string());
            }
        }
        rest = &tail[end.max(1)..];
    }
    found
}

/// A role offered by a verified response: (role ARN, provider ARN).
type Offer = (String, String);

async fn verified_offers(
    api: &Api,
    response_b64: &str,
) -> Result<(Vec<Offer>, Option<u64>), ApiError> {
    let state = api.state();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(response_b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::new(
                "AuthenticationFail.SAMLAssertion.Invalid",
                "The SAMLResponse is not Base64 of an XML document.",
                400,
            )
        })?;
    let now = state.clock.now();
    let mut offers = Vec::new();
    let mut duration = None;
    let mut last_error = None;
    for candidate in candidate_providers(&xml) {
        let Ok(arn) = ProviderArn::parse(&candidate) else {
            continue;
        };
        let provider = match state
            .store
            .get_saml_provider(&arn.account_id, &arn.name)
            .await
        {
            Ok(p) => p,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(crate::errors::store_error(e)),
        };
        match crate::sts::verify_for_provider(state, now, response_b64.to_owned(), &provider).await
        {
            Ok(verified) => {
                let wanted = provider.arn();
                for pair in verified.role_pairs() {
                    if pair.provider_arn.eq_ignore_ascii_case(&wanted) {
                        offers.push((pair.role_arn.clone(), wanted.clone()));
                    }
                }
                duration = verified
                    .attribute_values(SESSION_DURATION_ATTRIBUTE)
                    .next()
                    .and_then(|d| d.trim().parse::<u64>().ok());
            }
            Err(e) => last_error = Some(e),
        }
    }
    if offers.is_empty() {
        return Err(last_error.unwrap_or_else(|| {
            ApiError::new(
                "AuthenticationFail.SAMLAssertion.Invalid",
                "The response offers no role of a SAML provider registered here.",
                401,
            )
        }));
    }
    offers.sort();
    offers.dedup();
    Ok((offers, duration))
}

fn choice_page(response_b64: &str, offers: &[Offer]) -> HttpResponse {
    let mut options = String::new();
    for (i, (role, provider)) in offers.iter().enumerate() {
        let value = format!("{role},{provider}");
        options.push_str(&format!(
            "<div><input type=\"radio\" id=\"role{i}\" name=\"role\" value=\"{}\"{}>\
             <label class=\"inline\" for=\"role{i}\">{}</label></div>",
            escape(&value),
            if i == 0 { " checked" } else { "" },
            escape(role)
        ));
    }
    let body = format!(
        "<p>Your identity provider offers these roles. Choose one to sign in as.</p>\
         <form method=\"post\" action=\"{SSO_PATH}\">\
         <input type=\"hidden\" name=\"SAMLResponse\" value=\"{}\">\
         <fieldset><legend>Role</legend>{options}</fieldset>\
         <button type=\"submit\">Sign in</button></form>",
        escape(response_b64)
    );
    page(200, "Choose a role", &body, Vec::new())
}

async fn sso(api: &Api, req: &HttpRequest) -> HttpResponse {
    if req.raw.body.len() > MAX_RESPONSE {
        return refused(413, "The SAML response is too large.");
    }
    let form = form(req);
    let response_b64 = field(&form, "SAMLResponse").to_owned();
    if response_b64.is_empty() {
        return refused(400, "No SAMLResponse was posted.");
    }
    let (offers, duration) = match verified_offers(api, &response_b64).await {
        Ok(found) => found,
        Err(e) if e.status() >= 500 => return unavailable(),
        Err(e) => return refused(e.status(), e.message()),
    };
    let chosen = field(&form, "role");
    let offer = if chosen.is_empty() && offers.len() == 1 {
        offers.first().cloned()
    } else {
        offers
            .iter()
            .find(|(r, p)| format!("{r},{p}") == chosen)
            .cloned()
    };
    let Some((role_arn, provider_arn)) = offer else {
        return choice_page(&response_b64, &offers);
    };
    sign_in_as_role(api, req, &response_b64, &role_arn, &provider_arn, duration).await
}

async fn sign_in_as_role(
    api: &Api,
    req: &HttpRequest,
    response_b64: &str,
    role_arn: &str,
    provider_arn: &str,
    duration: Option<u64>,
) -> HttpResponse {
    let state = api.state();
    let Ok(role) = crate::sts::parse_role_arn(role_arn) else {
        return refused(400, "The chosen role is not a role ARN.");
    };
    // LoginNetworkMasks governs SSO console logons too.
    let preference = match security_preference_of(state.store.as_ref(), &role.account_id).await {
        Ok(p) => p,
        Err(_) => return unavailable(),
    };
    if !network_allows(&preference.login_network_masks, req.source_ip) {
        return refused(
            403,
            "Sign-in to this account is not allowed from your network address.",
        );
    }
    let mut params = vec![
        ("SAMLProviderArn".to_owned(), provider_arn.to_owned()),
        ("RoleArn".to_owned(), role_arn.to_owned()),
        ("SAMLAssertion".to_owned(), response_b64.to_owned()),
    ];
    if let Some(secs) = duration {
        params.push((
            "DurationSeconds".to_owned(),
            secs.clamp(900, 43_200).to_string(),
        ));
    }
    let issued = match api
        .invoke(
            req,
            Principal::Anonymous,
            false,
            "2015-04-01",
            "AssumeRoleWithSAML",
            params,
        )
        .await
    {
        Ok(issued) => issued,
        Err(e) if e.status() >= 500 => return unavailable(),
        Err(e) => return refused(e.status(), e.message()),
    };
    let user = issued.get("AssumedRoleUser");
    let assumed_id = user
        .and_then(|u| u.get("AssumedRoleId"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some((role_id, session_name)) = assumed_id.split_once(':') else {
        return unavailable();
    };
    let now = state.clock.now();
    let expires = issued
        .get("Credentials")
        .and_then(|c| c.get("Expiration"))
        .and_then(Value::as_str)
        .and_then(|e| rampart_model::Timestamp::parse(e).ok());
    let lifetime = expires
        .and_then(|e| e.duration_since(now))
        .unwrap_or(Duration::from_secs(3600));
    let attempt = Attempt {
        identity: SessionIdentity::Role {
            role_id: role_id.to_owned(),
            role_name: role.role_name.clone(),
            provider_arn: provider_arn.to_owned(),
        },
        ..Attempt::new(req, role.account_id.clone(), session_name, now)
    };
    match complete(state, &attempt, lifetime, false, None).await {
        Ok(Next::Active(token, lifetime)) => redirect(
            "/console",
            vec![
                set_cookie(req, SESSION_COOKIE, &token, Some(lifetime)),
                set_cookie(req, LOGIN_COOKIE, "", None),
            ],
        ),
        _ => unavailable(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_the_saml_provider_arns_named_in_the_document() {
        let xml = "<a>acs:ram::1234567890123456:role/admin,acs:ram::1234567890123456:saml-provider/corp</a>\
                   <b>acs:ram::1234567890123456:oidc-provider/x acs:ram::6543210987654321:saml-provider/other\"</b>";
        let found: Vec<_> = candidate_providers(xml).into_iter().collect();
        assert_eq!(
            found,
            vec![
                "acs:ram::1234567890123456:saml-provider/corp".to_owned(),
                "acs:ram::6543210987654321:saml-provider/other".to_owned(),
            ]
        );
        assert!(candidate_providers("no arns here").is_empty());
    }
}
