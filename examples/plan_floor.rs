//! The API server's floor for a plan: the same server-side dry-run apply PATCHes todoplan's
//! plan sends (one per object, field manager `todoplan`, forced), 16 in flight, from the
//! smallest client that can send them: no rendering, no discovery (resources from the kind),
//! no LIST, no diff. `scripts/bench-plan-apply` reports plan as a multiple of this.
//!
//!     cargo run --release --example plan_floor -- OBJECTS.json [IN_FLIGHT] [http1|http2]
//!
//! The transport: `http1` is kube's own client (HTTP/1.1, a connection per request in flight);
//! `http2` (the default) is the connection todoplan uses (`observe::multiplexed_client`: HTTP/2
//! when the server offers it, one connection), so the floor and the plan share a transport.
//!
//! OBJECTS.json: a JSON array (or a `List`) of the objects todoplan applied, as its state
//! records them (labels included).

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: plan_floor OBJECTS.json [IN_FLIGHT]")?;
    let in_flight: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(16);
    let transport = args.next().unwrap_or_else(|| "http2".to_string());
    let text = std::fs::read(&path)?;
    let objects: Vec<Value> = match serde_json::from_slice::<Value>(&text)? {
        Value::Array(items) => items,
        list => list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .ok_or("expected a JSON array or a List")?,
    };
    let client = match transport.as_str() {
        "http1" => kube::Client::try_default().await?,
        "http2" => {
            let config = kube::Config::infer().await?;
            todoplan::observe::multiplexed_client(config, std::time::Duration::from_secs(30))?.0
        }
        other => return Err(format!("transport `{other}`: expected http1 or http2").into()),
    };
    let params = {
        let mut p = PatchParams::apply("todoplan").force();
        p.dry_run = true;
        p
    };
    let sent = futures::stream::iter(objects.iter().map(|object| {
        let client = client.clone();
        let params = &params;
        async move {
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            let kind = object["kind"].as_str().unwrap_or_default();
            let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
                Some(ns) => Api::namespaced_with(client, ns, &resource),
                None => Api::all_with(client, &resource),
            };
            api.patch(name, params, &Patch::Apply(object)).await
        }
    }))
    .buffer_unordered(in_flight)
    .collect::<Vec<_>>()
    .await;
    let failed: Vec<String> = sent
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    if let Some(first) = failed.first() {
        return Err(format!(
            "{} of {} dry-runs failed: {first}",
            failed.len(),
            objects.len()
        )
        .into());
    }
    println!(
        "{} dry-run PATCHes, {in_flight} in flight, {transport}",
        objects.len()
    );
    Ok(())
}
