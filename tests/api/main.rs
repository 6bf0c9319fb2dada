//! Black-box tests of the whole service over HTTP: one binary, one module per capability.

mod auth;
mod complete;
mod contract;
mod cors;
mod crud;
mod errors;
mod health;
mod helpers;
mod isolation;
mod list;
mod migrations;
mod observability;
mod outage;
mod process;
mod proxy;
mod validation;
