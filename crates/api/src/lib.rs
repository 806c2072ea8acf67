//! Rampart's products behind one dispatcher.
//!
//! [`Api::handle`] takes a request from any HTTP server and runs the same steps for every
//! product: decode and classify (wire crate), find the product by `Version` and the action by
//! name in its table, authenticate (key, signature, timestamp, nonce), authorize the
//! permission the table row declares on the resources it names, and only then run the
//! handler. Handlers never authorize by hand.
//!
//! What it must never do: read the system clock (the [`rampart_model::Clock`] is injected),
//! put a secret or a store's internal message in a response or a log, or panic.

#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod authz;
pub mod call;
pub mod console;
mod dispatch;
pub mod errors;
pub mod http;
pub mod ims;
pub mod internal;
pub mod metrics;
mod nonce;
pub mod product;
pub mod ram;
pub mod state;
pub mod sts;
pub mod throttle;
pub mod trail;

pub use audit::AuditOptions;
pub use call::{Call, Principal};
pub use dispatch::Api;
pub use http::{HttpRequest, HttpResponse};
pub use state::{ApiOptions, State, StsOptions};
