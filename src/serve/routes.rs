//! Where a path goes: one `match` arm per path, each calling a handler
//! `fn(&Ctx, &Request) -> Reply` (or with the path's `{id}` as a third argument).
//!
//! To add an endpoint, add an arm here and its handler in its own module under `serve/`.
//! Credentials and the method (`GET`/`HEAD`) are checked before [`route`] runs; a handler
//! only reads [`Ctx`], answers, and never waits on the pipeline.

use super::{health, prometheus, Ctx, Reply, Request};

/// The reply to `request`.
pub fn route(ctx: &Ctx, request: &Request) -> Reply {
    match request.parts().as_slice() {
        ["healthz"] => health::healthz(ctx, request),
        ["metrics"] => prometheus::metrics(ctx, request),
        ["probe"] => prometheus::probe(ctx, request),
        _ => Reply::not_found(&request.path),
    }
}
