//! The one path every request takes.

use std::sync::Arc;

use rampart_model::{Clock, MasterKey, RequestId};
use rampart_store::{AuditSlot, NonceSpend, NonceUse, Store};
use rampart_wire::{
    negotiate_format, parse_request, render_error, render_success, ApiError, ErrorContext,
    ResponseFormat,
};

use crate::auth::authenticate;
use crate::authz::{Authorizer, RequestFacts};
use crate::call::{Call, Principal};
use crate::http::{HttpRequest, HttpResponse};
use crate::nonce::NonceBatcher;
use crate::product::{product_for, Access, ActionSpec, Product};
use crate::state::{ApiOptions, State};
use crate::throttle::Limiter;

/// The dispatcher. Clone it freely; clones share state.
#[derive(Clone, Debug)]
pub struct Api {
    state: Arc<State>,
}

/// What the request turned out to be, as far as it got: the labels of its metrics, and
/// what its audit event needs.
#[derive(Default)]
struct Seen {
    product: Option<&'static str>,
    action: Option<&'static str>,
    audit: Option<Audited>,
    /// A read's nonce, spent with its event once it ran (see [`crate::auth::authenticate`]).
    nonce: Option<Deferred>,
}

/// The nonce of a call that runs before spending it.
struct Deferred {
    spend: NonceSpend,
    product: &'static Product,
}

/// How a call ended: with its answer, or found to have run on a cached key state that no
/// longer holds, so that it must run again (nothing of it was written).
enum Concluded {
    Done(Outcome),
    KeyChanged,
}

/// Which run of a call this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// Trusts its key's cached state, if it is a read.
    First,
    /// After the first found that state stale: reads it, and takes no rate-limit tokens
    /// again, since the first run took them.
    AfterStaleKey,
}

/// A call whose account is known: it gets an event.
struct Audited {
    product: &'static Product,
    action: &'static str,
    account_id: String,
    principal: Principal,
    access_key_id: String,
    request_parameters: serde_json::Value,
    resources: Vec<String>,
    /// Set once the handler runs: carries the event into the call's first change.
    slot: Option<Arc<AuditSlot>>,
}

type Outcome = Result<(ResponseFormat, &'static str, crate::product::Body), Failure>;

/// Who a call is, once established: by a signature, or by a console session.
struct Identity {
    principal: Principal,
    /// The account's authorization epoch, for the policy-set cache.
    epoch: i64,
    /// Whether the caller proved MFA (a console session that passed it).
    mfa: bool,
}

fn new_request_id() -> String {
    RequestId::generate()
        .map(|id| id.to_string())
        .unwrap_or_else(|_| "00000000-0000-4000-8000-000000000000".to_owned())
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
        crate::audit::start_sealer(
            Arc::clone(&store),
            Arc::clone(&clock),
            options.audit.clone(),
        );
        let nonces = NonceBatcher::start(Arc::clone(&store), options.nonce_ttl);
        Self {
            state: Arc::new(State {
                nonces,
                key_cache: crate::auth::KeyCache::new(options.policy_cache_entries),
                saml_lock: Arc::new(std::sync::Mutex::new(())),
                metrics: crate::metrics::Metrics::default(),
                audit: crate::audit::AuditWriter::start(Arc::clone(&store), options.nonce_ttl),
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
        // RPC calls are all at `/`; the console has paths of its own.
        if request.raw.path != "/" {
            if let Some(page) = crate::console::route(self, &request).await {
                return page;
            }
        }
        let request_id = new_request_id();
        let started = std::time::Instant::now();
        let mut headers = Vec::with_capacity(2);
        // A read first trusts its key's cached state; if that turns out stale when its
        // nonce is spent, it runs again from a fresh read of the key, which cannot.
        let mut run = Run::First;
        let outcome = loop {
            let mut seen = Seen::default();
            let outcome = self.run(&request, &request_id, &mut seen, run).await;
            match self
                .conclude(&request, &request_id, seen, outcome, started)
                .await
            {
                Concluded::Done(outcome) => break outcome,
                Concluded::KeyChanged if run == Run::First => {
                    run = Run::AfterStaleKey;
                    let stale = crate::metrics::Cache::AccessKey;
                    self.state.metrics.cache_stale(stale);
                }
                Concluded::KeyChanged => {
                    break Err(Failure {
                        error: ApiError::internal_error(),
                        product: None,
                        format: ResponseFormat::Json,
                        retry_after_ms: None,
                    })
                }
            }
        };
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

    /// What every call does after it ran: its audit event (failing the call closed when the
    /// event cannot be written) and its metrics.
    async fn conclude(
        &self,
        http: &HttpRequest,
        request_id: &str,
        mut seen: Seen,
        mut outcome: Outcome,
        started: std::time::Instant,
    ) -> Concluded {
        let format = match &outcome {
            Ok((format, _, _)) => *format,
            Err(f) => f.format,
        };
        let product = seen
            .audit
            .as_ref()
            .map(|a| a.product)
            .or(seen.nonce.as_ref().map(|n| n.product));
        let event = match seen.audit.take() {
            Some(audited) => self.event(http, request_id, audited, &outcome),
            None => Ok(None),
        };
        let written = match (event, seen.nonce.take()) {
            (Err(e), _) => Err(e),
            (Ok(event), Some(d)) => {
                let now = self.state.clock.now();
                self.state.audit.spend_and_append(d.spend, event, now).await
            }
            (Ok(Some(record)), None) => self
                .state
                .audit
                .append(record)
                .await
                .map(|()| NonceUse::Fresh),
            (Ok(None), None) => Ok(NonceUse::Fresh),
        };
        match written {
            Ok(NonceUse::Fresh) => {}
            Ok(NonceUse::KeyChanged) => return Concluded::KeyChanged,
            // A replay of a call that changed nothing: its result is never sent, and nothing
            // of it was written.
            Ok(NonceUse::Replayed) => {
                outcome = Err(Failure {
                    error: ApiError::signature_nonce_used(),
                    product,
                    format,
                    retry_after_ms: None,
                });
            }
            Err(e) => {
                // Fail closed: a call the trail cannot show did not happen, as far as the
                // caller knows (a change already committed carries its own event).
                tracing::warn!(error = %e, "audit event not recorded");
                outcome = Err(Failure {
                    error: crate::errors::store_error(e),
                    product,
                    format,
                    retry_after_ms: None,
                });
            }
        }
        let code = outcome.as_ref().err().map(|f| f.error.code_cow());
        self.state
            .metrics
            .request(seen.product, seen.action, code, started.elapsed());
        Concluded::Done(outcome)
    }

    /// A console page's call for its signed-in person: the same action table, the same
    /// authorization (with `acs:MFAPresent` from the session) and the same audit trail as a
    /// signed call, so no page can do what the API would refuse.
    pub(crate) async fn invoke(
        &self,
        http: &HttpRequest,
        principal: Principal,
        mfa: bool,
        version: &str,
        action: &str,
        params: Vec<(String, String)>,
    ) -> Result<crate::product::Body, ApiError> {
        let request_id = new_request_id();
        let started = std::time::Instant::now();
        let mut seen = Seen::default();
        let fail = |error: ApiError| Failure {
            error,
            product: None,
            format: ResponseFormat::Json,
            retry_after_ms: None,
        };
        let found = product_for(version).and_then(|p| Some((p, p.action(action)?)));
        let Some((product, spec)) = found else {
            return Err(ApiError::invalid_action());
        };
        seen.product = Some(product.name);
        seen.action = Some(spec.name);
        let outcome = match rampart_wire::Params::from_pairs(params) {
            Ok(params) => {
                let request = rampart_wire::ClassifiedRequest::for_session(action, version, params);
                let epoch = match principal.account_id() {
                    Some(account) => self.state.store.authz_epoch(account).await,
                    None => Ok(0),
                };
                match epoch {
                    Ok(epoch) => {
                        let identity = Identity {
                            principal,
                            epoch,
                            mfa,
                        };
                        self.execute(
                            http,
                            &request_id,
                            &mut seen,
                            (product, spec, ResponseFormat::Json),
                            request,
                            identity,
                        )
                        .await
                    }
                    Err(e) => Err(fail(crate::errors::store_error(e))),
                }
            }
            Err(e) => Err(fail(e.into())),
        };
        match self
            .conclude(http, &request_id, seen, outcome, started)
            .await
        {
            Concluded::Done(outcome) => outcome.map(|(_, _, body)| body).map_err(|f| f.error),
            // A session's call spends no nonce, so it assumes nothing of a key.
            Concluded::KeyChanged => Err(ApiError::internal_error()),
        }
    }

    async fn run(
        &self,
        http: &HttpRequest,
        request_id: &str,
        seen: &mut Seen,
        run: Run,
    ) -> Outcome {
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
        // A run again took its rate-limit tokens the first time.
        let first = run == Run::First;
        // Before any parsing: a flood from one address costs a lookup per request.
        if let (true, Some(limiter), Some(ip)) = (first, &self.state.ip_limiter, http.source_ip) {
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
            _ => {
                // A call that changes nothing can run before its nonce is spent: the nonce
                // then goes into the same commit as its event, one commit instead of two.
                let defer = crate::audit::is_read(action.name);
                let found = authenticate(&self.state, raw, &request, now, defer, first)
                    .await
                    .map_err(|e| fail(e, Some(product), format))?;
                seen.nonce = found
                    .deferred_nonce
                    .map(|spend| Deferred { spend, product });
                (found.principal, found.epoch)
            }
        };
        // Only after the signature verified, so naming a key does not spend its budget.
        if let (true, Some(limiter), Some(key_id)) =
            (first, &self.state.key_limiter, request.access_key_id())
        {
            limiter
                .take(key_id, now)
                .map_err(|t| throttled(t, Some(product), format))?;
        }
        let identity = Identity {
            principal,
            epoch,
            mfa: false,
        };
        self.execute(
            http,
            request_id,
            seen,
            (product, action, format),
            request,
            identity,
        )
        .await
    }

    /// From an authenticated caller on: the event, authorization by the action's table row,
    /// then the handler.
    async fn execute(
        &self,
        http: &HttpRequest,
        request_id: &str,
        seen: &mut Seen,
        (product, action, format): (&'static Product, &'static ActionSpec, ResponseFormat),
        request: rampart_wire::ClassifiedRequest,
        identity: Identity,
    ) -> Outcome {
        let fail = |error: ApiError, product, format| Failure {
            error,
            product,
            format,
            retry_after_ms: None,
        };
        let now = self.state.clock.now();
        let Identity {
            principal,
            epoch,
            mfa,
        } = identity;
        if let Some(account_id) = audit_account(&principal, &request) {
            seen.audit = Some(Audited {
                product,
                action: action.name,
                account_id,
                principal: principal.clone(),
                access_key_id: request.access_key_id().unwrap_or_default().to_owned(),
                request_parameters: crate::audit::request_parameters(request.business_params()),
                resources: Vec::new(),
                slot: None,
            });
        }
        // INVARIANT: a call whose nonce is not spent yet can change nothing, so a replay of
        // it is harmless until it is refused at the end.
        let store = if seen.nonce.is_some() {
            self.state.store.read_only()
        } else {
            Arc::clone(&self.state.store)
        };
        let mut call = Call {
            store,
            state: Arc::clone(&self.state),
            product,
            action,
            request,
            principal,
            request_id: request_id.to_owned(),
            now,
            source_ip: http.source_ip,
            secure: http.secure,
            mfa,
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
            if let Some(audited) = seen.audit.as_mut() {
                audited.resources.clone_from(&resources);
            }
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
                    mfa,
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
        if let (Some(audited), None) = (seen.audit.as_mut(), &seen.nonce) {
            // The success-shaped event, for the first change the handler commits.
            let facts = audited.facts(request_id, now, http);
            if let Ok(record) = crate::audit::record(&facts.facts(), None, None) {
                let slot = Arc::new(AuditSlot::new(record));
                call.store = self.state.store.audited(Arc::clone(&slot));
                audited.slot = Some(slot);
            }
        }
        let body = (action.handler)(&call)
            .await
            .map_err(|e| fail(e, Some(product), format))?;
        Ok((format, action.name, body))
    }
}

/// The trail a call's event goes to: the caller's account, or for federated sign-in the
/// account of the role it asks for.
fn audit_account(
    principal: &Principal,
    request: &rampart_wire::ClassifiedRequest,
) -> Option<String> {
    match principal.account_id() {
        Some(account) => Some(account.to_string()),
        None => request
            .param("RoleArn")
            .and_then(|arn| crate::sts::parse_role_arn(arn).ok())
            .map(|arn| arn.account_id.to_string()),
    }
}

/// [`crate::audit::CallFacts`] with its borrowed parts owned here.
struct OwnedFacts<'a> {
    audited: &'a Audited,
    request_id: &'a str,
    now: rampart_model::Timestamp,
    source_ip: Option<std::net::IpAddr>,
    user_agent: &'a str,
    event_id: String,
}

impl OwnedFacts<'_> {
    fn facts(&self) -> crate::audit::CallFacts<'_> {
        crate::audit::CallFacts {
            event_id: &self.event_id,
            request_id: self.request_id,
            account_id: &self.audited.account_id,
            now: self.now,
            product: self.audited.product,
            action: self.audited.action,
            principal: &self.audited.principal,
            access_key_id: &self.audited.access_key_id,
            source_ip: self.source_ip,
            user_agent: self.user_agent,
            request_parameters: &self.audited.request_parameters,
            resources: &self.audited.resources,
        }
    }
}

impl Audited {
    fn facts<'a>(
        &'a self,
        request_id: &'a str,
        now: rampart_model::Timestamp,
        http: &'a HttpRequest,
    ) -> OwnedFacts<'a> {
        OwnedFacts {
            audited: self,
            request_id,
            now,
            source_ip: http.source_ip,
            user_agent: http.raw.header("user-agent").unwrap_or_default(),
            event_id: request_id.to_owned(),
        }
    }
}

impl Api {
    /// The call's event still to write: none if its change already carried it. A call that
    /// failed after a change committed gets a second event with the failure.
    fn event(
        &self,
        http: &HttpRequest,
        request_id: &str,
        audited: Audited,
        outcome: &Outcome,
    ) -> Result<Option<rampart_model::AuditRecord>, rampart_store::StoreError> {
        let error = outcome.as_ref().err().map(|f| &f.error);
        // Refused before authorization, to protect the server: not a call of the account's.
        if error.is_some_and(|e| e.code().starts_with("Throttling")) {
            return Ok(None);
        }
        let recorded = audited.slot.as_ref().is_some_and(|s| s.recorded());
        if recorded && error.is_none() {
            return Ok(None);
        }
        let now = self.state.clock.now();
        let mut facts = audited.facts(request_id, now, http);
        if recorded {
            facts.event_id = RequestId::generate()
                .map(|id| id.to_string())
                .map_err(|e| rampart_store::StoreError::Internal(e.to_string()))?;
        }
        // Issued credentials are the point of an STS event: which key, for whom, until when.
        let response = match outcome {
            Ok((_, _, body)) if audited.product.name == "Sts" => Some(crate::audit::redact(
                &serde_json::Value::Object(body.clone()),
            )),
            _ => None,
        };
        crate::audit::record(
            &facts.facts(),
            error.map(|e| (e.code(), e.message())),
            response,
        )
        .map(Some)
        .map_err(|e| rampart_store::StoreError::Internal(e.to_string()))
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
