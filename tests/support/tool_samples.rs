//! Sample arguments for every built-in tool, shared by the registry, local and SSH tests.
use serde_json::{json, Value};

/// Arguments that make each tool do real work on an ordinary Linux host.
pub fn sample_args(tool: &str) -> Value {
    match tool {
        "read_journal" => json!({"lines": 20, "priority": "warning"}),
        "service_status" => json!({"unit": "ssh"}),
        "list_services" => json!({"state": "running"}),
        "list_sockets" => json!({"listening": true, "process": false}),
        "resolve_host" => json!({"name": "localhost"}),
        "disk_usage" => json!({"path": "/etc", "depth": 1}),
        "read_file" => json!({"path": "/etc/os-release", "lines": 5}),
        "service_config" => json!({"service": "sshd"}),
        "list_dir" => json!({"path": "/etc", "depth": 1}),
        "list_processes" => json!({"sort": "mem", "limit": 5}),
        "process_info" => json!({"pid": 1}),
        "kernel_log" => json!({"level": "err"}),
        "package_version" => json!({"name": "bash"}),
        "cert_info" => json!({"path": "/etc/ssl/certs/ca-certificates.crt"}),
        "run_command" => json!({"command": "uname -r"}),
        "search_runbooks" => json!({"query": "nginx 502"}),
        "search_history" => json!({"query": "disk full", "host": "web01"}),
        _ => json!({}),
    }
}

/// Tools whose work never reaches the host (served by the knowledge layer).
pub const KNOWLEDGE_TOOLS: &[&str] = &["search_runbooks", "search_history"];

/// The tool names promised by issue 4.
pub const CONTRACT: &[&str] = &[
    "read_journal",
    "service_status",
    "list_services",
    "list_sockets",
    "network_interfaces",
    "routes",
    "resolve_host",
    "disk_usage",
    "inode_usage",
    "block_devices",
    "mounts",
    "read_file",
    "list_dir",
    "list_processes",
    "process_info",
    "memory_info",
    "cpu_load",
    "kernel_log",
    "system_info",
    "package_version",
    "cert_info",
    "time_sync",
    "run_command",
    "search_runbooks",
    "search_history",
];
