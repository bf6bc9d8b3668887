//! `GET /metrics` and `GET /probe`: the Prometheus surfaces (see [`crate::metrics`]).
//!
//! `/metrics` is streamed as it is rendered, so a scrape of a long list never sits whole in
//! memory. `/probe` runs one check on this serving thread, bounded by the monitor's timeout;
//! [`crate::metrics::ProbeEndpoint`] caps how many run at once, so the other threads keep
//! serving.

use std::sync::Arc;

use super::{Ctx, Reply, Request};
use crate::metrics::CONTENT_TYPE;

/// `GET /metrics`.
pub fn metrics(ctx: &Ctx, request: &Request) -> Reply {
    let Some(prometheus) = &ctx.prometheus else {
        return Reply::not_found(&request.path);
    };
    let scrape = prometheus.scrape(Arc::clone(&ctx.stats), Arc::clone(&ctx.monitors));
    Reply::streamed(200, CONTENT_TYPE, scrape)
}

/// `GET /probe?target=…`.
pub fn probe(ctx: &Ctx, request: &Request) -> Reply {
    let Some(prometheus) = &ctx.prometheus else {
        return Reply::not_found(&request.path);
    };
    let reply = prometheus
        .probe
        .handle(&request.query, request.scrape_timeout);
    Reply::new(reply.status, reply.content_type, reply.body)
}
