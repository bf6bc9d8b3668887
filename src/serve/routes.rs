//! Where a path goes: one `match` arm per path, each calling a handler
//! `fn(&Ctx, &Request) -> Reply` (with the path's `{id}` and file name as further arguments
//! where the path has them).
//!
//! To add an endpoint, add an arm here and its handler in its own module under `serve/`.
//! Credentials and the method (`GET`/`HEAD`) are checked before [`route`] runs; a handler
//! only reads [`Ctx`], answers, and never waits on the pipeline. Anything unmatched is a
//! plain-text `404` naming the path.

use super::{api, badge, health, pages, prometheus, Ctx, Reply, Request};

/// The reply to `request`.
pub fn route(ctx: &Ctx, request: &Request) -> Reply {
    match request.parts().as_slice() {
        [] => pages::status(ctx, request),
        ["monitors", id] => pages::monitor(ctx, request, id),
        ["healthz"] => health::healthz(ctx, request),
        ["metrics"] => prometheus::metrics(ctx, request),
        ["probe"] => prometheus::probe(ctx, request),
        ["api", "v1", "status"] => api::status(ctx, request),
        ["api", "v1", "monitors", id] => api::monitor(ctx, request, id),
        ["badge", id, file] => badge::status(ctx, request, id, file),
        ["badge", id, "uptime", file] => badge::uptime(ctx, request, id, file),
        _ => Reply::not_found(&request.path),
    }
}
