//! OIDC providers: Create/Get/List/Update/Delete, and the client-id and fingerprint edits.

use rampart_model::{Field, OidcProvider, DEFAULT_ISSUANCE_LIMIT_HOURS, ISSUANCE_LIMIT_HOURS};
use rampart_store::{NewOidcProvider, OidcProviderUpdate};
use rampart_wire::ApiError;
use serde_json::{json, Value};

use crate::call::{check_field, Call};
use crate::errors::store_error;
use crate::product::{Body, HandlerFuture};
use crate::ram::common::{body, date, paginate};

fn provider_json(p: &OidcProvider) -> Value {
    json!({
        "OIDCProviderName": p.name,
        "Arn": p.arn(),
        "IssuerUrl": p.issuer_url,
        "ClientIds": p.client_ids.join(","),
        "Fingerprints": p.fingerprints.join(","),
        "IssuanceLimitTime": p.issuance_limit_time,
        "Description": p.description,
        "CreateDate": date(p.create_date),
        "UpdateDate": date(p.update_date),
        // Unix milliseconds as strings, as IMS writes them.
        "GmtCreate": p.create_date.unix_millis().to_string(),
        "GmtModified": p.update_date.unix_millis().to_string(),
    })
}

fn one(p: &OidcProvider) -> Body {
    body(json!({ "OIDCProvider": provider_json(p) }))
}

/// A comma-separated list parameter, each item checked against `field` (the error names
/// the list parameter). Blanks around items and empty items are ignored.
fn list_param(
    call: &Call,
    param: &'static str,
    field: Field,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(text) = call.param(param) else {
        return Ok(None);
    };
    let mut items = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        check_field(field, param, item)?;
        items.push(item.to_owned());
    }
    Ok(Some(items))
}

/// Fingerprints are hex: stored lower-case, so `AB…` and `ab…` are one fingerprint.
fn lower(items: Vec<String>) -> Vec<String> {
    items.into_iter().map(|f| f.to_ascii_lowercase()).collect()
}

fn issuance_limit(call: &Call) -> Result<Option<u32>, ApiError> {
    Ok(call
        .int(
            "IssuanceLimitTime",
            i64::from(*ISSUANCE_LIMIT_HOURS.start()),
            i64::from(*ISSUANCE_LIMIT_HOURS.end()),
        )?
        .and_then(|h| u32::try_from(h).ok()))
}

pub fn create(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::OIDCProviderName)?;
        let issuer_url = call.name(Field::IssuerUrl)?;
        let fingerprints = list_param(call, "Fingerprints", Field::Fingerprint)?
            .map(lower)
            .unwrap_or_default();
        if fingerprints.is_empty() {
            return Err(ApiError::missing_parameter("Fingerprints"));
        }
        let provider = NewOidcProvider {
            name: name.to_owned(),
            issuer_url: issuer_url.to_owned(),
            fingerprints,
            client_ids: list_param(call, "ClientIds", Field::ClientId)?.unwrap_or_default(),
            issuance_limit_time: issuance_limit(call)?.unwrap_or(DEFAULT_ISSUANCE_LIMIT_HOURS),
            description: call
                .optional_name(Field::ProviderDescription, "Description")?
                .unwrap_or("")
                .to_owned(),
        };
        let p = call
            .store
            .create_oidc_provider(call.account()?, provider, call.now)
            .await
            .map_err(store_error)?;
        Ok(one(&p))
    })
}

pub fn get(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let p = call
            .store
            .get_oidc_provider(call.account()?, call.name(Field::OIDCProviderName)?)
            .await
            .map_err(store_error)?;
        Ok(one(&p))
    })
}

pub fn list(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let page = super::page(call)?;
        let listing = call
            .store
            .list_oidc_providers(call.account()?, &page)
            .await
            .map_err(store_error)?;
        let items: Vec<Value> = listing.items.iter().map(provider_json).collect();
        let mut out = body(json!({ "OIDCProviders": { "OIDCProvider": items } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}

pub fn update(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::OIDCProviderName)?;
        let update = OidcProviderUpdate {
            client_ids: list_param(call, "ClientIds", Field::ClientId)?,
            issuance_limit_time: issuance_limit(call)?,
            description: call
                .optional_name(Field::ProviderDescription, "NewDescription")?
                .map(str::to_owned),
        };
        let p = call
            .store
            .update_oidc_provider(call.account()?, name, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(one(&p))
    })
}

pub fn delete(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .delete_oidc_provider(call.account()?, call.name(Field::OIDCProviderName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn add_client_id(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::OIDCProviderName)?;
        let client_id = call.name(Field::ClientId)?;
        let p = call
            .store
            .add_oidc_client_id(call.account()?, name, client_id, call.now)
            .await
            .map_err(store_error)?;
        Ok(one(&p))
    })
}

pub fn remove_client_id(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::OIDCProviderName)?;
        let client_id = call.name(Field::ClientId)?;
        let p = call
            .store
            .remove_oidc_client_id(call.account()?, name, client_id, call.now)
            .await
            .map_err(store_error)?;
        Ok(one(&p))
    })
}

pub fn add_fingerprint(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::OIDCProviderName)?;
        let fingerprint = call.name(Field::Fingerprint)?.to_ascii_lowercase();
        let p = call
            .store
            .add_oidc_fingerprint(call.account()?, name, &fingerprint, call.now)
            .await
            .map_err(store_error)?;
        Ok(one(&p))
    })
}

pub fn remove_fingerprint(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::OIDCProviderName)?;
        let fingerprint = call.name(Field::Fingerprint)?.to_ascii_lowercase();
        let p = call
            .store
            .remove_oidc_fingerprint(call.account()?, name, &fingerprint, call.now)
            .await
            .map_err(store_error)?;
        Ok(one(&p))
    })
}
