//! `OidcVerifier` against a real HTTPS identity provider on 127.0.0.1: discovery, JWKS,
//! certificate pinning, the key cache and every claim check, with tokens minted by
//! jsonwebtoken from committed test keys.

use std::convert::Infallible;
use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rampart_federation::oidc::{
    OidcError, OidcProviderConfig, OidcVerifier, OidcVerifierOptions, VerifiedOidcToken,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

type TestResult<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// The caller's clock in every test: the verifier must never read the system's.
const NOW: i64 = 1_800_000_000;
const SUBJECT: &str = "system:serviceaccount:ns:sa";
const CLIENT_ID: &str = "sts.aliyuncs.com";

fn fixture(name: &str) -> TestResult<Vec<u8>> {
    let path = format!("{}/tests/fixtures/oidc/{name}", env!("CARGO_MANIFEST_DIR"));
    Ok(std::fs::read(path)?)
}

struct Keys {
    rsa: EncodingKey,
    ec: EncodingKey,
    /// The public JWKs the IdP publishes for them.
    jwks: Value,
}

fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> TestResult<Value> {
    let mut jwk = serde_json::to_value(Jwk::from_encoding_key(key, alg)?)?;
    let object = jwk.as_object_mut().ok_or("a JWK is a JSON object")?;
    object.insert("kid".into(), kid.into());
    object.insert("use".into(), "sig".into());
    Ok(jwk)
}

fn keys() -> TestResult<Keys> {
    let rsa = EncodingKey::from_rsa_pem(&fixture("rsa.pem")?)?;
    let ec = EncodingKey::from_ec_pem(&fixture("ec-p256.pem")?)?;
    let jwks = json!({"keys": [
        public_jwk(&rsa, Algorithm::RS256, "rsa-1")?,
        public_jwk(&ec, Algorithm::ES256, "ec-1")?,
    ]});
    Ok(Keys { rsa, ec, jwks })
}

/// What the test IdP serves, and how often it was asked.
struct State {
    issuer: String,
    jwks_uri: String,
    jwks: Mutex<Value>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

impl State {
    fn respond(&self, path: &str) -> Response<Full<Bytes>> {
        let body = match path {
            "/.well-known/openid-configuration" => {
                self.discovery_hits.fetch_add(1, Ordering::SeqCst);
                json!({"issuer": self.issuer, "jwks_uri": self.jwks_uri})
            }
            "/jwks" => {
                self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                self.jwks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            }
            _ => {
                let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
                *response.status_mut() = StatusCode::NOT_FOUND;
                return response;
            }
        };
        Response::new(Full::new(Bytes::from(body.to_string())))
    }
}

/// An HTTPS identity provider on an ephemeral port of 127.0.0.1.
struct Idp {
    state: Arc<State>,
    /// SHA-1 of the first certificate served (the server's own).
    fingerprint: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Idp {
    fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    fn hits(&self) -> (usize, usize) {
        (
            self.state.discovery_hits.load(Ordering::SeqCst),
            self.state.jwks_hits.load(Ordering::SeqCst),
        )
    }

    fn set_jwks(&self, jwks: Value) {
        *self
            .state
            .jwks
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = jwks;
    }

    fn provider(&self) -> OidcProviderConfig {
        OidcProviderConfig {
            issuer_url: self.issuer(),
            fingerprints: vec![self.fingerprint.clone()],
            client_ids: vec!["other-app".into(), CLIENT_ID.into()],
            issuance_limit: Duration::from_secs(12 * 3600),
        }
    }

    /// Valid claims at `NOW`, for this issuer.
    fn claims(&self) -> Map<String, Value> {
        let claims = json!({
            "iss": self.issuer(), "sub": SUBJECT, "aud": CLIENT_ID,
            "iat": NOW - 10, "exp": NOW + 600, "custom": "kept",
        });
        claims.as_object().cloned().unwrap_or_default()
    }
}

fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha1::digest(der))
}

async fn serve_chain(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    jwks: Value,
    jwks_uri: Option<String>,
) -> TestResult<Idp> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let fingerprint = fingerprint(chain.first().ok_or("empty chain")?);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("https://{}", listener.local_addr()?);
    let state = Arc::new(State {
        jwks_uri: jwks_uri.unwrap_or_else(|| format!("{issuer}/jwks")),
        issuer,
        jwks: Mutex::new(jwks),
        discovery_hits: AtomicUsize::new(0),
        jwks_hits: AtomicUsize::new(0),
    });
    let served = Arc::clone(&state);
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let state = Arc::clone(&served);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let response = state.respond(request.uri().path());
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(Idp {
        state,
        fingerprint,
        server,
    })
}

fn self_signed(names: &[&str]) -> TestResult<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names)?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into();
    Ok((certified.cert.der().clone(), key))
}

async fn serve(keys: &Keys) -> TestResult<Idp> {
    let (cert, key) = self_signed(&["127.0.0.1", "localhost"])?;
    serve_chain(vec![cert], key, keys.jwks.clone(), None).await
}

fn mint(
    claims: &Map<String, Value>,
    alg: Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
) -> TestResult<String> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    Ok(jsonwebtoken::encode(&header, claims, key)?)
}

fn rs256(keys: &Keys, claims: &Map<String, Value>) -> TestResult<String> {
    mint(claims, Algorithm::RS256, Some("rsa-1"), &keys.rsa)
}

fn expect_err(result: Result<VerifiedOidcToken, OidcError>) -> TestResult<OidcError> {
    match result {
        Ok(token) => Err(format!("verification should have failed, got {token:?}").into()),
        Err(error) => Ok(error),
    }
}

const INVALID: &str = "AuthenticationFail.OIDCToken.Invalid";

#[tokio::test]
async fn valid_rs256_and_es256_tokens_verify() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let verifier = OidcVerifier::default();

    let token = rs256(&keys, &idp.claims())?;
    let verified = verifier.verify(&idp.provider(), &token, NOW).await?;
    assert_eq!(verified.issuer, idp.issuer());
    assert_eq!(verified.subject, SUBJECT);
    assert_eq!(verified.audiences, vec![CLIENT_ID.to_owned()]);
    assert_eq!(
        (verified.issued_at, verified.expires_at),
        (NOW - 10, NOW + 600)
    );
    assert_eq!(verified.claims.get("custom"), Some(&json!("kept")));

    let mut claims = idp.claims();
    claims.insert("aud".into(), json!(["someone-else", CLIENT_ID]));
    let token = mint(&claims, Algorithm::ES256, Some("ec-1"), &keys.ec)?;
    let verified = verifier.verify(&idp.provider(), &token, NOW).await?;
    assert_eq!(
        verified.audiences,
        vec!["someone-else".to_owned(), CLIENT_ID.to_owned()]
    );
    Ok(())
}

#[tokio::test]
async fn jwks_is_cached_until_its_ttl() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let verifier = OidcVerifier::default();
    let token = rs256(&keys, &idp.claims())?;
    verifier.verify(&idp.provider(), &token, NOW).await?;
    assert_eq!(idp.hits(), (1, 1));
    // A clone shares the cache.
    verifier
        .clone()
        .verify(&idp.provider(), &token, NOW + 1)
        .await?;
    assert_eq!(idp.hits(), (1, 1), "the second verification must not fetch");
    verifier.verify(&idp.provider(), &token, NOW + 599).await?;
    assert_eq!(idp.hits(), (1, 1));
    verifier.verify(&idp.provider(), &token, NOW + 601).await?;
    assert_eq!(
        idp.hits(),
        (2, 2),
        "after the TTL the keys are fetched again"
    );
    Ok(())
}

#[tokio::test]
async fn issuer_url_with_trailing_slash_is_discovered() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let mut provider = idp.provider();
    provider.issuer_url.push('/');
    let mut claims = idp.claims();
    claims.insert("iss".into(), json!(provider.issuer_url));
    let token = rs256(&keys, &claims)?;
    OidcVerifier::default()
        .verify(&provider, &token, NOW)
        .await?;
    assert_eq!(idp.hits(), (1, 1));
    Ok(())
}

#[tokio::test]
async fn alg_none_is_refused_without_fetching() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"rsa-1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&idp.claims())?);
    let verifier = OidcVerifier::default();
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.AAAA"),
    ] {
        let error = expect_err(verifier.verify(&idp.provider(), &token, NOW).await)?;
        assert!(
            matches!(&error, OidcError::UnsupportedAlgorithm { alg } if alg == "none"),
            "{error}"
        );
        assert_eq!(error.code(), INVALID);
    }
    assert_eq!(idp.hits(), (0, 0));
    Ok(())
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let secret = EncodingKey::from_secret(&fixture("rsa-public.pem")?);
    let token = mint(&idp.claims(), Algorithm::HS256, Some("rsa-1"), &secret)?;
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &token, NOW)
            .await,
    )?;
    assert!(
        matches!(&error, OidcError::UnsupportedAlgorithm { alg } if alg == "HS256"),
        "{error}"
    );
    assert_eq!(error.code(), INVALID);
    Ok(())
}

#[tokio::test]
async fn algorithm_must_fit_the_key() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    // An ES256 token naming the RSA key: the key's alg and kty do not fit.
    let token = mint(&idp.claims(), Algorithm::ES256, Some("rsa-1"), &keys.ec)?;
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &token, NOW)
            .await,
    )?;
    assert!(
        matches!(&error, OidcError::NoKey(m) if m.contains("rsa-1")),
        "{error}"
    );
    assert_eq!(error.code(), INVALID);
    Ok(())
}

#[tokio::test]
async fn tampered_signature_is_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let token = rs256(&keys, &idp.claims())?;
    let (signed, _) = token.rsplit_once('.').ok_or("three parts")?;
    let mut other = idp.claims();
    other.insert("sub".into(), json!("admin"));
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other)?);
    let (header, _) = signed.split_once('.').ok_or("three parts")?;
    let signature = token.rsplit_once('.').ok_or("three parts")?.1;
    let forged = format!("{header}.{forged_payload}.{signature}");
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &forged, NOW)
            .await,
    )?;
    assert!(matches!(error, OidcError::BadSignature { .. }), "{error}");
    assert_eq!(error.code(), INVALID);
    Ok(())
}

#[tokio::test]
async fn unknown_kid_refreshes_once_then_is_rate_limited() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let verifier = OidcVerifier::default();
    let provider = idp.provider();
    verifier
        .verify(&provider, &rs256(&keys, &idp.claims())?, NOW)
        .await?;
    assert_eq!(idp.hits(), (1, 1));

    let bogus = mint(&idp.claims(), Algorithm::RS256, Some("bogus"), &keys.rsa)?;
    let error = expect_err(verifier.verify(&provider, &bogus, NOW + 40).await)?;
    assert!(error.to_string().contains("\"bogus\""), "{error}");
    assert_eq!(error.code(), INVALID);
    assert_eq!(idp.hits(), (2, 2), "an unknown kid refetches the keys");
    for later in [41, 50, 69] {
        expect_err(verifier.verify(&provider, &bogus, NOW + later).await)?;
    }
    assert_eq!(idp.hits(), (2, 2), "no refetch within the rate limit");

    // The issuer rotates in a new key; once the limit has passed its tokens verify.
    let mut jwks = keys.jwks.clone();
    if let Some(list) = jwks.get_mut("keys").and_then(Value::as_array_mut) {
        list.push(public_jwk(&keys.rsa, Algorithm::RS256, "rsa-2")?);
    }
    idp.set_jwks(jwks);
    let rotated = mint(&idp.claims(), Algorithm::RS256, Some("rsa-2"), &keys.rsa)?;
    expect_err(verifier.verify(&provider, &rotated, NOW + 60).await)?;
    assert_eq!(idp.hits(), (2, 2));
    verifier.verify(&provider, &rotated, NOW + 70).await?;
    assert_eq!(idp.hits(), (3, 3));
    Ok(())
}

#[tokio::test]
async fn token_without_kid_needs_a_single_suitable_key() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    // One RSA and one EC key: each algorithm has exactly one candidate.
    let token = mint(&idp.claims(), Algorithm::RS256, None, &keys.rsa)?;
    OidcVerifier::default()
        .verify(&idp.provider(), &token, NOW)
        .await?;

    let mut jwks = keys.jwks.clone();
    if let Some(list) = jwks.get_mut("keys").and_then(Value::as_array_mut) {
        list.push(public_jwk(&keys.rsa, Algorithm::RS256, "rsa-2")?);
    }
    idp.set_jwks(jwks);
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &token, NOW)
            .await,
    )?;
    assert!(error.to_string().contains("no kid"), "{error}");
    Ok(())
}

#[tokio::test]
async fn expired_token_is_refused_beyond_the_skew() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let verifier = OidcVerifier::default();
    let mut claims = idp.claims();
    claims.insert("iat".into(), json!(NOW - 900));
    claims.insert("exp".into(), json!(NOW - 30));
    verifier
        .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
        .await?;

    claims.insert("exp".into(), json!(NOW - 61));
    let error = expect_err(
        verifier
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert_eq!(
        error,
        OidcError::Expired {
            exp: NOW - 61,
            now: NOW
        }
    );
    assert_eq!(error.code(), "AuthenticationFail.OIDCToken.Expired");

    let strict = OidcVerifier::new(OidcVerifierOptions::default().with_clock_skew(Duration::ZERO));
    claims.insert("exp".into(), json!(NOW - 1));
    let error = expect_err(
        strict
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert_eq!(error.code(), "AuthenticationFail.OIDCToken.Expired");
    Ok(())
}

#[tokio::test]
async fn nbf_and_iat_in_the_future_are_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let verifier = OidcVerifier::default();
    let mut claims = idp.claims();
    claims.insert("nbf".into(), json!(NOW + 300));
    let error = expect_err(
        verifier
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert_eq!(
        error,
        OidcError::NotYetValid {
            nbf: NOW + 300,
            now: NOW
        }
    );
    assert_eq!(error.code(), INVALID);

    let mut claims = idp.claims();
    claims.insert("iat".into(), json!(NOW + 300));
    let error = expect_err(
        verifier
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert_eq!(
        error,
        OidcError::IssuedInFuture {
            iat: NOW + 300,
            now: NOW
        }
    );
    Ok(())
}

#[tokio::test]
async fn token_issued_before_the_issuance_limit_is_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let mut claims = idp.claims();
    claims.insert("iat".into(), json!(NOW - 13 * 3600));
    claims.insert("exp".into(), json!(NOW + 3600));
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert!(
        matches!(error, OidcError::IssuedTooLongAgo { limit: 43200, .. }),
        "{error}"
    );
    assert_eq!(error.code(), "AuthenticationFail.OIDCToken.Expired");
    Ok(())
}

#[tokio::test]
async fn wrong_issuer_is_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let mut claims = idp.claims();
    claims.insert("iss".into(), json!("https://evil.example"));
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert_eq!(
        error,
        OidcError::IssuerMismatch {
            seen: "https://evil.example".into(),
            expected: idp.issuer()
        }
    );
    assert!(
        error.to_string().contains("https://evil.example"),
        "{error}"
    );
    assert_eq!(error.code(), INVALID);
    Ok(())
}

#[tokio::test]
async fn wrong_audience_is_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let mut claims = idp.claims();
    claims.insert("aud".into(), json!(["a", "b"]));
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert_eq!(
        error,
        OidcError::AudienceNotMatch {
            seen: vec!["a".into(), "b".into()]
        }
    );
    assert_eq!(
        error.code(),
        "AuthenticationFail.OIDCToken.AudienceNotMatch"
    );
    assert!(
        !error.to_string().contains(CLIENT_ID),
        "client IDs are not disclosed: {error}"
    );
    Ok(())
}

#[tokio::test]
async fn missing_sub_is_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let mut claims = idp.claims();
    claims.remove("sub");
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &rs256(&keys, &claims)?, NOW)
            .await,
    )?;
    assert_eq!(
        error,
        OidcError::BadClaim {
            claim: "sub",
            problem: "is missing"
        }
    );
    Ok(())
}

#[tokio::test]
async fn unregistered_certificate_is_refused_until_registered() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let verifier = OidcVerifier::default();
    let token = rs256(&keys, &idp.claims())?;
    let mut provider = idp.provider();
    provider.fingerprints = vec!["902ef2deeb3c5b13ea4c3d5193629309e231ae55".into()];
    let error = expect_err(verifier.verify(&provider, &token, NOW).await)?;
    assert!(
        matches!(&error, OidcError::FingerprintMismatch { presented, .. } if presented == &vec![idp.fingerprint.clone()]),
        "{error}"
    );
    assert_eq!(
        error.code(),
        "AuthenticationFail.OIDCToken.PublicKeyFingerprintMismatch"
    );
    assert!(error.to_string().contains(&idp.fingerprint), "{error}");
    assert_eq!(idp.hits(), (0, 0), "nothing is sent to an unpinned server");

    // Registering it (in upper case, with another) makes the same verifier accept at once.
    provider.fingerprints.push(idp.fingerprint.to_uppercase());
    verifier.verify(&provider, &token, NOW + 1).await?;
    assert_eq!(idp.hits(), (1, 1));
    Ok(())
}

#[tokio::test]
async fn http_issuer_and_jwks_uri_are_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let token = rs256(&keys, &idp.claims())?;
    let mut provider = idp.provider();
    provider.issuer_url = provider.issuer_url.replace("https://", "http://");
    let error = expect_err(OidcVerifier::default().verify(&provider, &token, NOW).await)?;
    assert!(matches!(error, OidcError::InsecureUrl { .. }), "{error}");
    assert_eq!(error.code(), INVALID);
    assert_eq!(idp.hits(), (0, 0));

    let (cert, key) = self_signed(&["127.0.0.1"])?;
    let plain = serve_chain(
        vec![cert],
        key,
        keys.jwks.clone(),
        Some("http://127.0.0.1:1/jwks".into()),
    )
    .await?;
    let token = rs256(&keys, &plain.claims())?;
    let error = expect_err(
        OidcVerifier::default()
            .verify(&plain.provider(), &token, NOW)
            .await,
    )?;
    assert!(
        matches!(&error, OidcError::InsecureUrl { url, .. } if url.starts_with("http://")),
        "{error}"
    );
    assert_eq!(plain.hits(), (1, 0));
    Ok(())
}

#[tokio::test]
async fn oversized_and_malformed_tokens_are_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let verifier = OidcVerifier::default();
    let long = "a".repeat(20_001);
    let error = expect_err(verifier.verify(&idp.provider(), &long, NOW).await)?;
    assert!(
        matches!(error, OidcError::TooLong { len: 20_001, .. }),
        "{error}"
    );
    for token in ["", "a.b", "a.b.c.d.e", "!!.!!.!!"] {
        let error = expect_err(verifier.verify(&idp.provider(), token, NOW).await)?;
        assert!(matches!(error, OidcError::Malformed(_)), "{token}: {error}");
        assert_eq!(error.code(), INVALID);
    }
    assert_eq!(idp.hits(), (0, 0));
    Ok(())
}

struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> TestResult<Ca> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Rampart test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?.der().clone();
    Ok(Ca {
        cert,
        issuer: Issuer::new(params, key),
    })
}

fn issued_by(
    ca: &Ca,
    names: &[&str],
) -> TestResult<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca.issuer)?.der().clone();
    Ok((cert, PrivatePkcs8KeyDer::from(key.serialize_der()).into()))
}

#[tokio::test]
async fn pinned_ca_vouches_only_for_certificates_it_issued_for_the_host() -> TestResult {
    let keys = keys()?;
    let ca = ca()?;
    let ca_print = fingerprint(&ca.cert);

    let (leaf, key) = issued_by(&ca, &["127.0.0.1"])?;
    let idp = serve_chain(vec![leaf, ca.cert.clone()], key, keys.jwks.clone(), None).await?;
    let mut provider = idp.provider();
    provider.fingerprints = vec![ca_print.clone()];
    OidcVerifier::default()
        .verify(&provider, &rs256(&keys, &idp.claims())?, NOW)
        .await?;

    // Anyone can append the (public) CA certificate to a chain of their own.
    let (own, key) = self_signed(&["127.0.0.1"])?;
    let impostor = serve_chain(vec![own, ca.cert.clone()], key, keys.jwks.clone(), None).await?;
    let mut provider = impostor.provider();
    provider.fingerprints = vec![ca_print.clone()];
    let token = rs256(&keys, &impostor.claims())?;
    let error = expect_err(OidcVerifier::default().verify(&provider, &token, NOW).await)?;
    assert!(
        matches!(error, OidcError::UntrustedCertificate { .. }),
        "{error}"
    );
    assert_eq!(
        error.code(),
        "AuthenticationFail.OIDCToken.PublicKeyFingerprintMismatch"
    );
    assert_eq!(impostor.hits(), (0, 0));

    // A certificate the CA issued for another host.
    let (other, key) = issued_by(&ca, &["idp.example.com"])?;
    let elsewhere = serve_chain(vec![other, ca.cert.clone()], key, keys.jwks.clone(), None).await?;
    let mut provider = elsewhere.provider();
    provider.fingerprints = vec![ca_print];
    let token = rs256(&keys, &elsewhere.claims())?;
    let error = expect_err(OidcVerifier::default().verify(&provider, &token, NOW).await)?;
    assert!(
        matches!(&error, OidcError::UntrustedCertificate { reason, .. } if reason.contains("not for this host")),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn pinned_certificate_outside_its_validity_is_refused() -> TestResult {
    let keys = keys()?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?.der().clone();
    let idp = serve_chain(
        vec![cert],
        PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        keys.jwks.clone(),
        None,
    )
    .await?;
    let token = rs256(&keys, &idp.claims())?;
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &token, NOW)
            .await,
    )?;
    assert!(
        matches!(&error, OidcError::UntrustedCertificate { reason, .. } if reason.contains("valid from")),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn oversized_jwks_is_refused() -> TestResult {
    let keys = keys()?;
    let idp = serve(&keys).await?;
    let mut jwks = keys.jwks.clone();
    if let Some(object) = jwks.as_object_mut() {
        object.insert("padding".into(), json!("x".repeat(300 * 1024)));
    }
    idp.set_jwks(jwks);
    let token = rs256(&keys, &idp.claims())?;
    let error = expect_err(
        OidcVerifier::default()
            .verify(&idp.provider(), &token, NOW)
            .await,
    )?;
    assert!(
        matches!(&error, OidcError::Fetch { reason, .. } if reason.contains("cap")),
        "{error}"
    );
    assert_eq!(error.code(), INVALID);
    Ok(())
}
