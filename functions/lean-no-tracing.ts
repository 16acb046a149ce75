// The bundle's stand-in for `@opentelemetry/api` (functions/bundle.ts aliases it here). prom-client requires the
// API when it loads, for one feature: exemplars (a trace id stored beside a sample), which no metric of ours turns
// on. Loaded for nothing, the real API cost a recorder 0.6 MiB of private memory a camera (issue 24). Empty on
// purpose: were exemplars ever turned on, prom-client would fail loudly on the first scrape, not record wrong ids.
export {};
