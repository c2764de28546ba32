"""The ``ddos_attack`` alert family: its profiles, procedure steps, triage branches and articles."""

from __future__ import annotations

from services.retrieval.corpus.sample.spec import ArticleSpec, Branch, Family, Profile, Step

FAMILY = Family(
    key="ddos_attack",
    alert_types=("ddos_attack", "traffic_spike", "syn_flood", "rate_limit_exceeded"),
    stems=(
        ("DDoS Attack Mitigation", "ddos_attack"),
        ("Abnormal Traffic Spike", "traffic_spike"),
        ("SYN Flood", "syn_flood"),
    ),
    symptoms=(
        "request_rate_spike",
        "syn_backlog_full",
        "origin_saturation",
        "single_asn_traffic",
        "http_flood_pattern",
        "bandwidth_saturation",
    ),
    blurb="Tell an attack from a legitimate surge by looking at who sends the traffic, then push filtering as far "
    "upstream as possible: the CDN or provider, then the load balancer, then the host.",
    author="Security Operations",
    escalation=("security", "security"),
    upgrade_severity=True,
    profiles=(
        Profile(
            "nginx",
            "Nginx Edge",
            ("nginx", "web-server"),
            ("api-gateway", "www", "checkout-api"),
            "limit_req zones in nginx shed abusive clients without touching legitimate ones.",
            (
                Step(
                    "find_top_talkers",
                    "Find the top client addresses",
                    "diagnose",
                    "tail -n 100000 /var/log/nginx/access.log | awk '{print $1}' | "
                    "sort | uniq -c | sort -rn | head -25",
                    "A flood from few sources is easy to block; a flood from many needs upstream help.",
                    "Request counts for the busiest client IPs.",
                    120,
                    tools=("awk", "sort"),
                ),
                Step(
                    "enable_rate_limiting",
                    "Enable nginx rate limiting",
                    "mitigate",
                    "ln -sf /etc/nginx/snippets/limit-req-emergency.conf /etc/nginx/conf.d/ && nginx -t && "
                    "systemctl reload nginx",
                    "Switch on the prepared limit_req zone (10 r/s per IP, burst 20) for all locations.",
                    "Abusive clients receive 429/503 while normal traffic succeeds.",
                    120,
                    ("emergency rate-limit snippet present and reviewed",),
                    "rm /etc/nginx/conf.d/limit-req-emergency.conf && nginx -t && systemctl reload nginx",
                    ("nginx",),
                ),
            ),
        ),
        Profile(
            "cdn",
            "CDN and WAF",
            ("cdn", "waf"),
            ("cloudflare", "www", "api-gateway"),
            "Only the CDN can absorb volumetric attacks; origin-side blocking is too late.",
            (
                Step(
                    "enable_under_attack_mode",
                    "Enable Cloudflare Under Attack mode",
                    "mitigate",
                    'curl -s -X PATCH "https://api.cloudflare.com/client/v4/zones/$ZONE_ID/settings/security_level" '
                    "-H \"Authorization: Bearer $CF_API_TOKEN\" -H 'Content-Type: application/json' "
                    '--data \'{"value":"under_attack"}\'',
                    "Challenge every visitor with a JavaScript check until the attack subsides.",
                    "Attack traffic is challenged; the origin's request rate falls.",
                    60,
                    ("CF_API_TOKEN with zone settings permission",),
                    'curl -s -X PATCH "https://api.cloudflare.com/client/v4/zones/$ZONE_ID/settings/security_level" '
                    "-H \"Authorization: Bearer $CF_API_TOKEN\" -H 'Content-Type: application/json' "
                    '--data \'{"value":"medium"}\'',
                    ("curl",),
                ),
            ),
        ),
        Profile(
            "haproxy",
            "HAProxy Load Balancers",
            ("haproxy", "load-balancer"),
            ("edge-router", "keepalived", "api-gateway"),
            "HAProxy stick tables show per-source request rates and can deny above a threshold.",
            (
                Step(
                    "check_syn_backlog",
                    "Check SYN backlog and socket state",
                    "diagnose",
                    "ss -s && nstat -az TcpExtListenOverflows TcpExtListenDrops TcpExtTCPReqQFullDrop",
                    "Listen overflows and SYN drops mean the kernel is shedding new connections.",
                    "Socket summary and rising overflow counters during a SYN flood.",
                    60,
                    tools=("ss", "nstat"),
                ),
                Step(
                    "harden_syn_handling",
                    "Harden kernel SYN handling",
                    "mitigate",
                    "sysctl -w net.ipv4.tcp_syncookies=1 net.ipv4.tcp_max_syn_backlog=65536 "
                    "net.ipv4.tcp_synack_retries=2",
                    "SYN cookies let the host answer floods without keeping half-open state.",
                    "ListenDrops stop increasing and legitimate connections succeed.",
                    60,
                    (),
                    "sysctl -w net.ipv4.tcp_max_syn_backlog=4096 net.ipv4.tcp_synack_retries=5",
                    ("sysctl",),
                ),
                Step(
                    "inspect_stick_table",
                    "Inspect HAProxy stick table rates",
                    "diagnose",
                    "echo 'show table http_front' | socat stdio /run/haproxy/admin.sock | sort -t= -k4 -rn | head -20",
                    "See per-source HTTP request rates tracked by the frontend.",
                    "The sources with the highest http_req_rate.",
                    60,
                    ("stick table configured on the frontend",),
                    None,
                    ("socat",),
                ),
            ),
        ),
    ),
    steps=(
        Step(
            "measure_traffic",
            "Measure traffic volume by interface",
            "diagnose",
            "sar -n DEV 1 5 && sar -n TCP,ETCP 1 5",
            "Compare packets and connections per second with the usual baseline.",
            "Throughput and connection rates per interface.",
            60,
            tools=("sar",),
        ),
        Step(
            "block_offending_ranges",
            "Block offending source ranges",
            "mitigate",
            "ipset create ddos-block hash:net -exist && ipset add ddos-block <cidr> -exist && "
            "iptables -C INPUT -m set --match-set ddos-block src -j DROP 2>/dev/null || "
            "iptables -I INPUT -m set --match-set ddos-block src -j DROP",
            "Drop traffic from a few abusive networks at the host with an ipset.",
            "Packets from the listed ranges are dropped; CPU and connection counts fall.",
            120,
            ("ranges confirmed as attack sources, not a partner or NAT gateway",),
            "iptables -D INPUT -m set --match-set ddos-block src -j DROP && ipset destroy ddos-block",
            ("ipset", "iptables"),
        ),
        Step(
            "verify_service_reachable",
            "Verify the service is reachable",
            "verify",
            "for i in $(seq 10); do curl -s -o /dev/null -w '%{http_code} %{time_total}\\n' https://{host}/; "
            "sleep 3; done",
            "Check that legitimate requests succeed with normal latency.",
            "200 responses with normal response times.",
            60,
            tools=("curl",),
        ),
    ),
    branches=(
        Branch(
            "volumetric_attack",
            "requests_per_second >= {t} and error_rate >= 0.1",
            "Volumetric attack hurting users: filter upstream now.",
            "mitigate",
            0.92,
            ("50000", "100000"),
        ),
        Branch(
            "syn_flood",
            '"syn_backlog_full" in symptoms',
            "SYN flood: enable SYN cookies and filter sources.",
            "mitigate",
            0.9,
        ),
        Branch(
            "critical_attack",
            'severity == "critical"',
            "Critical attack alert: mitigate and involve the provider.",
            "mitigate",
            0.88,
        ),
        Branch(
            "single_source",
            '"single_asn_traffic" in symptoms',
            "Traffic comes from one network: identify and block it.",
            "diagnose",
            0.85,
        ),
    ),
    fallback=Branch(
        "characterise_traffic",
        "requests_per_second >= {t}",
        "Traffic is elevated: decide whether it is an attack or a surge.",
        "diagnose",
        0.72,
        ("500", "1000"),
    ),
    articles=(
        ArticleSpec(
            "security",
            "DDoS response playbook: from detection to upstream mitigation",
            "Who to call and which controls to turn on, in order, when a denial-of-service attack starts.",
            ("ddos", "incident-response", "cdn", "waf"),
            ("measure_traffic", "enable_under_attack_mode", "verify_service_reachable"),
            (
                "Confirm it is an attack: look at sources, paths and user agents, not only volume.",
                "Turn on CDN challenge or WAF rules first; origin defences cannot absorb volume.",
                "Open a ticket with the upstream provider early for volumetric attacks.",
                "Keep a log of every rule added so they can be removed after the attack.",
            ),
            "cdn",
        ),
        ArticleSpec(
            "configuration",
            "Rate limiting with nginx limit_req and HAProxy stick tables",
            "Configure per-client rate limits that stop floods and scrapers without hurting NATed offices.",
            ("nginx", "haproxy", "rate-limiting"),
            ("find_top_talkers", "enable_rate_limiting"),
            (
                "Key limits on $binary_remote_addr, or on an API key when clients sit behind shared NAT.",
                "Use burst with nodelay so short legitimate bursts are not delayed.",
                "Return 429 with Retry-After for APIs; clients back off correctly.",
            ),
            "nginx",
        ),
        ArticleSpec(
            "configuration",
            "Kernel SYN flood protections: syncookies and backlog tuning",
            "How Linux handles half-open connections and which sysctls keep a host responsive during a SYN flood.",
            ("linux", "sysctl", "syn-flood", "tcp"),
            ("check_syn_backlog", "harden_syn_handling"),
            (
                "Keep net.ipv4.tcp_syncookies=1 on every internet-facing host.",
                "Raise tcp_max_syn_backlog and the application's listen backlog together.",
                "Fewer SYN-ACK retries free half-open slots sooner during a flood.",
            ),
            "haproxy",
        ),
        ArticleSpec(
            "monitoring",
            "Distinguishing a DDoS from a legitimate traffic surge",
            "Signals that separate an attack from a marketing campaign or a viral post, so you block the right thing.",
            ("ddos", "traffic-analysis", "monitoring"),
            ("find_top_talkers", "measure_traffic"),
            (
                "Legitimate surges follow the normal path mix; floods hammer one URL or random paths.",
                "Check referrers and user agents; campaigns bring real browsers with referrers.",
                "Ask marketing and product whether anything launched before blocking anyone.",
            ),
            "nginx",
        ),
    ),
)
