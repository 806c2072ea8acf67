//! The one path every request takes.

use std::sync::Arc;

use rampart_model::{Clock, MasterKey, RequestId};
use rampart_store::Store;
use rampart_wire::{
    negotiate_format, parse_request, render_error, render_success, ApiError, ErrorContext,
    ResponseFormat,
};

use crate::auth::authenticate;
use crate::authz::{Authorizer, RequestFacts};
use crate::call::{Call, Principal};
use crate::http::{HttpRequest, HttpResponse};
use crate::nonce::NonceBatcher;
use crate::product::{product_for, Access, Product};
use crate::state::{ApiOptions, State};
use crate::throttle::Limiter;

/// The dispatcher. Clone it freely; clones share state.
#[derive(Clone, Debug)]
pub struct Api {
    state: Arc<State>,
}

/// What the request turned out to be, as far as it got: the labels of its metrics.
#[derive(Default)]
struct Seen {
    product: Option<&'static str>,
    action: Option<&'static str>,
}

/// Where an error is reported from: which product's host, if known yet.
struct Failure {
    error: ApiError,
    product: Option<&'static Product>,
    format: ResponseFormat,
    /// `x-acs-retry-after`, for throttled requests.
    retry_after_ms: Option<u64>,
}

impl Api {
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        options: ApiOptions,
    ) -> Self {
        let authorizer = Authorizer::new(options.policy_cache_entries);
        let nonces = NonceBatcher::start(Arc::clone(&store), options.nonce_ttl);
        Self {
            state: Arc::new(State {
                nonces,
                key_cache: crate::auth::KeyCache::new(options.policy_cache_entries),
                saml_lock: Arc::new(std::sync::Mutex::new(())),
                metrics: crate::metrics::Metrics::default(),
                oidc: rampart_federation::oidc::OidcVerifier::default(),
                tokens: crate::sts::token::TokenKeys::new(
                    Arc::clone(&master_key),
                    options.sts.token_key_period.as_secs(),
                ),
                key_limiter: options
                    .rate_limits
                    .per_access_key
                    .map(|rate| Limiter::new(rate, "AccessKey")),
                ip_limiter: options
                    .rate_limits
                    .per_source_ip
                    .map(|rate| Limiter::new(rate, "source IP")),
                store,
                master_key,
                clock,
                options,
                authorizer,
            }),
        }
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Answers one request. Never fails: every problem becomes an error envelope.
    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        let request_id = RequestId::generate()
            .map(|id| id.to_string())
            .unwrap_or_else(|_| "00000000-0000-4000-8000-000000000000".to_owned());
        let started = std::time::Instant::now();
        let mut seen = Seen::default();
        let mut headers = Vec::with_capacity(2);
        let outcome = self.run(&request, &request_id, &mut seen).await;
        let code = outcome.as_ref().err().map(|f| f.error.code_cow());
        self.state
            .metrics
            .request(seen.product, seen.action, code, started.elapsed());
        let (status, content_type, body) = match outcome {
            Ok((format, action, body)) => {
                let r = render_success(format, action, &request_id, &body);
                (r.status, r.content_type, r.body)
            }
            Err(f) => {
                if let Some(ms) = f.retry_after_ms {
                    headers.push(("x-acs-retry-after", ms.to_string()));
                }
                let (host, name) = f
                    .product
                    .map(|p| (p.host, p.name))
                    .unwrap_or(("rampart.local", "Rampart"));
                let r = render_error(
                    f.format,
                    &f.error,
                    &ErrorContext {
                        request_id: &request_id,
                        host_id: host,
                        product: name,
                    },
                );
                (r.status, r.content_type, r.body)
            }
        };
        headers.push(("x-acs-request-id", request_id));
        HttpResponse {
            status,
            content_type,
            body,
            headers,
        }
    }

    async fn run(
        &self,
        http: &HttpRequest,
        request_id: &str,
        seen: &mut Seen,
    ) -> Result<(ResponseFormat, &'static str, crate::product::Body), Failure> {
        let raw = &http.raw;
        // Until the request is classified, answer in the format it seems to ask for.
        let guessed = negotiate_format(None, raw.header("accept")).unwrap_or(ResponseFormat::Json);
        let fail = |error: ApiError, product, format| Failure {
            error,
            product,
            format,
            retry_after_ms: None,
        };
        let throttled = |t: crate::throttle::Throttled, product, format| Failure {
            error: t.error(),
            product,
            format,
            retry_after_ms: Some(t.retry_after_ms),
        };
        let now = self.state.clock.now();
        // Before any parsing: a flood from one address costs a lookup per request.
        if let (Some(limiter), Some(ip)) = (&self.state.ip_limiter, http.source_ip) {
            limiter
                .take(&ip.to_string(), now)
                .map_err(|t| throttled(t, None, guessed))?;
        }
        let request = parse_request(raw, &self.state.options.limits)
            .map_err(|e| fail(e.into(), None, guessed))?;
        let format = negotiate_format(request.params().get("Format"), raw.header("accept"))
            .map_err(|e| fail(e.into(), None, guessed))?;
        let product = product_for(request.version())
            .ok_or_else(|| fail(ApiError::invalid_version(), None, format))?;
        seen.product = Some(product.name);
        let action = product
            .action(request.action())
            .ok_or_else(|| fail(ApiError::invalid_action(), Some(product), format))?;
        seen.action = Some(action.name);

        let (principal, epoch) = match action.access {
            Access::Anonymous if matches!(request.scheme(), rampart_wire::Scheme::Anonymous) => {
                (Principal::Anonymous, 0)
            }
            _ => authenticate(&self.state, raw, &request, now)
                .await
                .map_err(|e| fail(e, Some(product), format))?,
        };
        // Only after the signature verified, so naming a key does not spend its budget.
        if let (Some(limiter), Some(key_id)) = (&self.state.key_limiter, request.access_key_id()) {
            limiter
                .take(key_id, now)
                .map_err(|t| throttled(t, Some(product), format))?;
        }
        let call = Call {
            state: Arc::clone(&self.state),
            product,
            action,
            request,
            principal,
            request_id: request_id.to_owned(),
            now,
            source_ip: http.source_ip,
            secure: http.secure,
        };
        let (permission, resources, preference) = match action.access {
            Access::Authorized {
                permission,
                resources,
            } => (Some(permission), Some(resources), None),
            Access::SelfService {
                permission,
                resources,
                preference,
            } => (Some(permission), Some(resources), Some(preference)),
            Access::Anonymous | Access::Authenticated => (None, None, None),
        };
        if let (Some(permission), Some(resources)) = (permission, resources) {
            let resources = resources(&call).map_err(|e| fail(e, Some(product), format))?;
            let self_service = match preference {
                Some(preference) => crate::ram::self_service(&call, &resources, preference)
                    .await
                    .map_err(|e| fail(e, Some(product), format))?,
                None => false,
            };
            if self_service {
                self.state.metrics.decision(true);
            } else {
                let facts = RequestFacts {
                    source_ip: http.source_ip,
                    secure: http.secure,
                    now,
                };
                let decided = self
                    .state
                    .authorizer
                    .check(
                        (
                            self.state.store.as_ref(),
                            &self.state.master_key,
                            &self.state.metrics,
                        ),
                        &call.principal,
                        epoch,
                        permission,
                        &resources,
                        facts,
                    )
                    .await;
                match &decided {
                    Ok(()) => self.state.metrics.decision(true),
                    Err(e) if e.code() == "NoPermission" => self.state.metrics.decision(false),
                    Err(_) => {}
                }
                decided.map_err(|e| fail(e, Some(product), format))?;
            }
        }
        let body = (action.handler)(&call)
            .await
            .map_err(|e| fail(e, Some(product), format))?;
        Ok((format, action.name, body))
    }
}

impl Api {
    /// An error envelope for a request refused before it reached the dispatcher (by the HTTP
    /// layer: an oversized body, say), in the format its `Accept` header asks for.
    pub fn reject(&self, error: &ApiError, accept: Option<&str>) -> HttpResponse {
        let request_id = RequestId::generate()
            .map(|id| id.to_string())
            .unwrap_or_else(|_| "00000000-0000-4000-8000-000000000000".to_owned());
        let format = negotiate_format(None, accept).unwrap_or(ResponseFormat::Json);
        let r = render_error(
            format,
            error,
            &ErrorContext {
                request_id: &request_id,
                host_id: "rampart.local",
                product: "Rampart",
            },
        );
        HttpResponse {
            status: r.status,
            content_type: r.content_type,
            body: r.body,
            headers: vec![("x-acs-request-id", request_id)],
        }
    }

    /// Whether the database answers: `/readyz`.
    pub async fn ready(&self) -> bool {
        self.state
            .store
            .list_accounts(&rampart_store::Page::first(1))
            .await
            .is_ok()
    }
}
