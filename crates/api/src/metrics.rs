//! Prometheus metrics of the dispatcher, served at `/metrics` in the OpenMetrics text format.
//!
//! Every label value comes from the server's own tables (product and action names, error
//! codes Rampart defines), never from request text, so a caller cannot grow the series: an
//! unknown action is counted under `action="-"`. Nothing secret is a label.

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    product: &'static str,
    action: &'static str,
    /// `OK`, or the error code answered.
    code: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProductLabels {
    product: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

/// Which cache a lookup went to.
#[derive(Debug, Clone, Copy)]
pub enum Cache {
    /// AccessKeys with their opened secrets.
    AccessKey,
    /// Compiled policy sets per principal.
    PolicySet,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// The server's metrics; shared by every request.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<ProductLabels, Histogram, fn() -> Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    sts_issued: Family<ActionLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    sign_ins: Family<OutcomeLabels, Counter>,
    password_checks: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "API requests answered, by product, action and code (OK or the error code)",
            requests.clone(),
        );
        let latency = Family::<ProductLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival at the dispatcher to its answer",
            latency.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "authorization_decisions",
            "Authorization decisions of the dispatcher: allow or deny",
            decisions.clone(),
        );
        let sts_issued = Family::<ActionLabels, Counter>::default();
        registry.register(
            "sts_credentials_issued",
            "STS credentials issued, by action",
            sts_issued.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Lookups in the AccessKey and policy-set caches: hit or miss",
            cache.clone(),
        );
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "console_sign_ins",
            "Console sign-in attempts, by outcome: success, mfa_required, or the reason refused",
            sign_ins.clone(),
        );
        let password_checks = Counter::default();
        registry.register(
            "console_password_checks",
            "argon2id password verifications run by sign-ins (real or, for unknown names, dummy)",
            password_checks.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            decisions,
            sts_issued,
            cache,
            sign_ins,
            password_checks,
        }
    }
}

impl Metrics {
    pub(crate) fn request(
        &self,
        product: Option<&'static str>,
        action: Option<&'static str>,
        code: Option<Cow<'static, str>>,
        elapsed: Duration,
    ) {
        let product = product.unwrap_or("-");
        self.requests
            .get_or_create(&RequestLabels {
                product,
                action: action.unwrap_or("-"),
                code: code.unwrap_or(Cow::Borrowed("OK")),
            })
            .inc();
        self.latency
            .get_or_create(&ProductLabels { product })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn decision(&self, allowed: bool) {
        let decision = if allowed { "allow" } else { "deny" };
        self.decisions
            .get_or_create(&DecisionLabels { decision })
            .inc();
    }

    pub(crate) fn sign_in(&self, outcome: &'static str) {
        self.sign_ins
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub(crate) fn password_check(&self) {
        self.password_checks.inc();
    }

    pub(crate) fn sts_issued(&self, action: &'static str) {
        self.sts_issued
            .get_or_create(&ActionLabels { action })
            .inc();
    }

    pub(crate) fn cache(&self, cache: Cache, hit: bool) {
        self.cache_result(cache, if hit { "hit" } else { "miss" });
    }

    /// A hit whose entry turned out stale when the call committed, so that the call ran again.
    pub(crate) fn cache_stale(&self, cache: Cache) {
        self.cache_result(cache, "stale");
    }

    fn cache_result(&self, cache: Cache, result: &'static str) {
        let cache = match cache {
            Cache::AccessKey => "access_key",
            Cache::PolicySet => "policy_set",
        };
        self.cache
            .get_or_create(&CacheLabels { cache, result })
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would leave a partial text,
        // which is still the best answer available.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
