//! Rampart's own product: a no-op action that authenticates like any other call and then
//! does nothing, the baseline of the server benchmarks.

use rampart_wire::ApiError;

use crate::call::Call;
use crate::product::{Access, ActionSpec, Body, HandlerFuture, Product};

pub static INTERNAL: Product = Product {
    name: "Rampart",
    service: "rampart",
    version: "2026-11-01",
    host: "rampart.local",
    actions: &[ActionSpec {
        name: "Noop",
        access: Access::Authenticated,
        handler: noop,
    }],
};

fn noop(_call: &Call) -> HandlerFuture<'_> {
    Box::pin(async { Ok::<Body, ApiError>(Body::new()) })
}
