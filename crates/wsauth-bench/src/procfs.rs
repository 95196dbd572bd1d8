//! Readings from `/proc`: resident memory and CPU time of a process.

use anyhow::{Context, bail};
use std::time::Instant;

/// Linux reports CPU times in `/proc/*/stat` in units of `USER_HZ`, which is
/// 100 on every Linux architecture's user-space ABI.
const USER_HZ: f64 = 100.0;

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return kib.parse().context("malformed VmRSS");
        }
    }
    bail!("no VmRSS in /proc/{pid}/status")
}

/// User + system CPU seconds used so far by a process (`None`: this process).
pub fn cpu_seconds(pid: Option<u32>) -> anyhow::Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is index 0 here, so utime (14) and stime (15) are 11 and 12.
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / USER_HZ)
}

/// The CPUs a process may run on, from `Cpus_allowed_list` (`None`: this process).
pub fn allowed_cpus(pid: Option<u32>) -> anyhow::Result<Vec<usize>> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .context("no Cpus_allowed_list")?;
    parse_cpu_list(list.trim())
}

fn parse_cpu_list(list: &str) -> anyhow::Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.trim().parse::<usize>()?..=b.trim().parse::<usize>()?),
            None => cpus.push(part.trim().parse()?),
        }
    }
    Ok(cpus)
}

/// One CPU's jiffies so far, from `/proc/stat`.
#[derive(Debug, Clone, Copy)]
struct CoreJiffies {
    cpu: usize,
    /// User time, `nice` included.
    user: u64,
    system: u64,
    /// Hard and soft interrupts: where loopback TCP receive work is charged.
    interrupts: u64,
    /// Everything but idle and iowait.
    busy: u64,
    total: u64,
}

fn per_cpu_jiffies() -> Vec<CoreJiffies> {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    stat.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let cpu = fields.next()?.strip_prefix("cpu")?.parse::<usize>().ok()?;
            let v: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal ...
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            let total: u64 = v.iter().take(8).sum();
            Some(CoreJiffies {
                cpu,
                user: at(0) + at(1),
                system: at(2),
                interrupts: at(5) + at(6),
                busy: total.saturating_sub(at(3) + at(4)),
                total,
            })
        })
        .collect()
}

/// CPU use of this process (and optionally of a server) over a measured interval.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    start: Instant,
    client: f64,
    server_pid: Option<u32>,
    server: Option<f64>,
    cores: Vec<CoreJiffies>,
}

/// CPU use over an interval.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CpuUse {
    /// The load generator's own CPU time, percent of one core.
    pub client_cpu_pct: f64,
    /// Cores the load generator may run on.
    pub client_cores: usize,
    /// The server's own CPU time, percent of one core, when its pid was given.
    pub server_cpu_pct: Option<f64>,
    /// How busy the load generator's cores were (every task, interrupts and
    /// softirq included), percent, averaged over those cores.
    pub client_core_busy_pct: Option<f64>,
    /// How busy the server's cores were, likewise, when its pid was given.
    pub server_core_busy_pct: Option<f64>,
    /// Of the server's cores' time: user (every task's), percent.
    pub server_core_user_pct: Option<f64>,
    /// Of the server's cores' time: system (every task's), percent.
    pub server_core_system_pct: Option<f64>,
    /// Of the server's cores' time: hard and soft interrupts, percent.
    pub server_core_interrupt_pct: Option<f64>,
    /// Whether the generator's cores are disjoint from the server's.
    pub pinned_apart: bool,
}

impl CpuUse {
    /// Whether the load generator had (nearly) all of its cores busy, so that
    /// the measurement may show the generator's limit rather than the server's.
    pub fn client_saturated(&self) -> bool {
        let own = self.client_cpu_pct >= 90.0 * self.client_cores as f64;
        let core = self.pinned_apart && self.client_core_busy_pct.is_some_and(|b| b >= 95.0);
        own || core
    }
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn start(server_pid: Option<u32>) -> Self {
        Self {
            start: Instant::now(),
            client: cpu_seconds(None).unwrap_or(0.0),
            server_pid,
            server: server_pid.and_then(|p| cpu_seconds(Some(p)).ok()),
            cores: per_cpu_jiffies(),
        }
    }

    /// CPU use since [`CpuMeter::start`].
    pub fn finish(&self) -> CpuUse {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        let client = cpu_seconds(None).unwrap_or(self.client) - self.client;
        let server = match (self.server_pid, self.server) {
            (Some(pid), Some(before)) => cpu_seconds(Some(pid)).ok().map(|now| now - before),
            _ => None,
        };
        let now = per_cpu_jiffies();
        // The share of `cpus`' time that `part` took since the start.
        let share_of = |cpus: &[usize], part: fn(&CoreJiffies) -> u64| -> Option<f64> {
            let (mut spent, mut total) = (0u64, 0u64);
            for after in now.iter().filter(|c| cpus.contains(&c.cpu)) {
                if let Some(before) = self.cores.iter().find(|c| c.cpu == after.cpu) {
                    spent += part(after).saturating_sub(part(before));
                    total += after.total.saturating_sub(before.total);
                }
            }
            (total > 0).then(|| round1(100.0 * spent as f64 / total as f64))
        };
        let client_cpus = allowed_cpus(None).unwrap_or_default();
        let server_cpus =
            self.server_pid.and_then(|p| allowed_cpus(Some(p)).ok()).unwrap_or_default();
        // No CPUs (no server pid) leave no time to share: `None`.
        let server_share = |part: fn(&CoreJiffies) -> u64| share_of(&server_cpus, part);
        let pinned_apart = !client_cpus.is_empty()
            && !server_cpus.is_empty()
            && client_cpus.iter().all(|c| !server_cpus.contains(c));
        CpuUse {
            client_cpu_pct: round1(100.0 * client / wall),
            client_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            server_cpu_pct: server.map(|s| round1(100.0 * s / wall)),
            client_core_busy_pct: share_of(&client_cpus, |c| c.busy),
            server_core_busy_pct: server_share(|c| c.busy),
            server_core_user_pct: server_share(|c| c.user),
            server_core_system_pct: server_share(|c| c.system),
            server_core_interrupt_pct: server_share(|c| c.interrupts),
            pinned_apart,
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() -> anyhow::Result<()> {
        assert_eq!(parse_cpu_list("0-2,5")?, vec![0, 1, 2, 5]);
        assert_eq!(parse_cpu_list("1")?, vec![1]);
        assert!(!allowed_cpus(None)?.is_empty());
        Ok(())
    }

    #[test]
    fn core_times_split_into_parts_of_the_busy_time() {
        let cores = per_cpu_jiffies();
        assert!(!cores.is_empty());
        for c in cores {
            assert!(c.user + c.system + c.interrupts <= c.busy, "{c:?}");
            assert!(c.busy <= c.total, "{c:?}");
        }
    }

    #[test]
    fn reads_own_rss_and_cpu() -> anyhow::Result<()> {
        assert!(rss_kib(std::process::id())? > 0);
        assert!(cpu_seconds(None)? >= 0.0);
        Ok(())
    }
}
