//! Black-box tests of the whole service over HTTP: one binary, one module per capability.

mod attacks;
mod auth;
mod better_auth;
mod citus;
mod complete;
mod conditional;
mod contract;
mod cors;
mod crud;
mod details;
mod errors;
mod health;
mod helpers;
mod idempotency;
mod isolation;
mod jwks;
mod keys;
mod list;
mod migrations;
mod observability;
mod outage;
mod pool;
mod process;
mod proxy;
mod tls;
mod validation;
