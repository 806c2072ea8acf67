//! SAML providers: Create/Get/List/Update/Delete. The metadata is parsed (entity ID, signing
//! certificates) before anything is stored, so a provider that could never verify a
//! response is refused at upload.

use rampart_federation::saml::{parse_encoded_metadata, MetadataError};
use rampart_model::{AuthnSignAlgo, Field, SamlProvider};
use rampart_store::{NewSamlProvider, SamlMetadata, SamlProviderUpdate};
use rampart_wire::ApiError;
use serde_json::{json, Value};

use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;
use crate::ram::common::{body, date, paginate};

/// `Arn, SAMLProviderName, Description, CreateDate, UpdateDate`: the listing's fields; the
/// other actions add `AuthnSignAlgo` (and Get the document).
fn provider_json(p: &SamlProvider) -> Value {
    json!({
        "SAMLProviderName": p.name,
        "Arn": p.arn(),
        "Description": p.description,
        "CreateDate": date(p.create_date),
        "UpdateDate": date(p.update_date),
    })
}

fn with_algo(p: &SamlProvider) -> Value {
    let mut v = provider_json(p);
    if let Value::Object(m) = &mut v {
        m.insert(
            "AuthnSignAlgo".into(),
            Value::String(p.authn_sign_algo.as_str().into()),
        );
    }
    v
}

/// `InvalidParameter.<Param>`, with what is wrong with the document.
fn metadata(call: &Call, param: &'static str) -> Result<Option<SamlMetadata>, ApiError> {
    let Some(encoded) = call.param(param).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let parsed = parse_encoded_metadata(encoded).map_err(|e: MetadataError| {
        ApiError::new(
            format!("InvalidParameter.{param}"),
            format!("The parameter - \"{param}\" is not valid: {e}."),
            400,
        )
    })?;
    Ok(Some(SamlMetadata {
        encoded: encoded.to_owned(),
        entity_id: parsed.entity_id,
    }))
}

fn sign_algo(call: &Call) -> Result<Option<AuthnSignAlgo>, ApiError> {
    match call.param("AuthnSignAlgo").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::new(
                "InvalidParameter.AuthnSignAlgo",
                "The parameter - \"AuthnSignAlgo\" must be \"rsa-sha1\" or \"rsa-sha256\".",
                400,
            )
        }),
    }
}

pub fn create(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::SAMLProviderName)?;
        let meta = metadata(call, "EncodedSAMLMetadataDocument")?
            .ok_or_else(|| ApiError::missing_parameter("EncodedSAMLMetadataDocument"))?;
        let provider = NewSamlProvider {
            name: name.to_owned(),
            description: call
                .optional_name(Field::ProviderDescription, "Description")?
                .unwrap_or("")
                .to_owned(),
            authn_sign_algo: sign_algo(call)?.unwrap_or_default(),
            encoded_metadata: meta.encoded,
            metadata_entity_id: meta.entity_id,
        };
        let p = call
            .store
            .create_saml_provider(call.account()?, provider, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "SAMLProvider": with_algo(&p) })))
    })
}

pub fn get(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let p = call
            .store
            .get_saml_provider(call.account()?, call.name(Field::SAMLProviderName)?)
            .await
            .map_err(store_error)?;
        let mut v = with_algo(&p);
        if let Value::Object(m) = &mut v {
            m.insert(
                "EncodedSAMLMetadataDocument".into(),
                Value::String(p.encoded_metadata.clone()),
            );
        }
        Ok(body(json!({ "SAMLProvider": v })))
    })
}

pub fn list(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let page = super::page(call)?;
        let listing = call
            .store
            .list_saml_providers(call.account()?, &page)
            .await
            .map_err(store_error)?;
        let items: Vec<Value> = listing.items.iter().map(provider_json).collect();
        let mut out = body(json!({ "SAMLProviders": { "SAMLProvider": items } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}

pub fn update(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let name = call.name(Field::SAMLProviderName)?;
        let update = SamlProviderUpdate {
            metadata: metadata(call, "NewEncodedSAMLMetadataDocument")?,
            description: call
                .optional_name(Field::ProviderDescription, "NewDescription")?
                .map(str::to_owned),
            authn_sign_algo: sign_algo(call)?,
        };
        if update == SamlProviderUpdate::default() {
            return Err(ApiError::new(
                "MissingParameter",
                "NewEncodedSAMLMetadataDocument or NewDescription is mandatory for this action.",
                400,
            ));
        }
        let p = call
            .store
            .update_saml_provider(call.account()?, name, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "SAMLProvider": with_algo(&p) })))
    })
}

pub fn delete(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .delete_saml_provider(call.account()?, call.name(Field::SAMLProviderName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}
