//! One JSON line per measurement on stdout, a human summary on stderr.

use serde_json::{Value, json};
use std::io::Write;
use wsauth_bench::procfs::CpuUse;

use crate::common::{Common, Target};

pub(crate) fn emit(
    common: &Common,
    target: &Target,
    bench: &str,
    fields: Value,
    cpu: Option<CpuUse>,
    human: String,
) {
    let mut line = json!({
        "bench": bench,
        "label": common.label,
        "mode": common.mode.as_str(),
        "url": target.display_url(),
        "sources": target.sources.len(),
        "unix_time": wsauth_bench::jwt::unix_now(),
    });
    if let (Some(obj), Value::Object(extra)) = (line.as_object_mut(), fields) {
        obj.extend(extra);
        if let Some(cpu) = &cpu {
            if let Value::Object(fields) = json!(cpu) {
                obj.extend(fields);
            }
            obj.insert("client_saturated".into(), json!(cpu.client_saturated()));
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    let tag = if common.label.is_empty() { String::new() } else { format!(" {}", common.label) };
    eprintln!("[{bench} {}{tag}] {human}", common.mode.as_str());
    if let Some(cpu) = cpu {
        let server = cpu
            .server_cpu_pct
            .map_or_else(String::new, |s| format!(", server {s:.0}% of one core"));
        let cores = match (cpu.client_core_busy_pct, cpu.server_core_busy_pct) {
            (Some(c), Some(s)) => format!("; cores busy: generator's {c:.0}%, server's {s:.0}%"),
            (Some(c), None) => format!("; generator's cores busy {c:.0}%"),
            _ => String::new(),
        };
        eprintln!(
            "    cpu: load generator {:.0}% of {} core(s){server}{cores}",
            cpu.client_cpu_pct, cpu.client_cores
        );
        // Only rates depend on the generator keeping up.
        if cpu.client_saturated() && matches!(bench, "handshake" | "echo" | "hold") {
            eprintln!(
                "    WARNING: the load generator's core was saturated (by the generator or by other work); rates on this line are lower bounds for the server"
            );
        }
    }
}
