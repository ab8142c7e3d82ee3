pub mod readiness;
