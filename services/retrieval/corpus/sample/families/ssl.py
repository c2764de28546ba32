"""The ``ssl_certificate`` alert family: its profiles, procedure steps, triage branches and articles."""

from __future__ import annotations

from services.retrieval.corpus.sample.spec import ArticleSpec, Branch, Family, Profile, Step

FAMILY = Family(
    key="ssl_certificate",
    alert_types=("ssl_certificate", "ssl", "cert_expired", "cert_expiring", "tls_handshake_failure"),
    stems=(
        ("TLS Certificate Expiry", "cert_expiring"),
        ("Expired SSL Certificate", "cert_expired"),
        ("TLS Handshake Failures", "tls_handshake_failure"),
    ),
    symptoms=(
        "cert_expiring",
        "cert_expired",
        "cert_invalid",
        "tls_handshake_errors",
        "ocsp_stapling_failed",
        "chain_incomplete",
    ),
    blurb="Certificate incidents are almost always a renewal that silently failed weeks ago or a chain deployed "
    "without its intermediate; renew, reload and verify from outside.",
    author="Platform SRE",
    escalation=("sre_oncall", "l2_support"),
    profiles=(
        Profile(
            "letsencrypt",
            "Let's Encrypt on Nginx",
            ("nginx", "web-server"),
            ("www", "status-page", "api-gateway", "docs"),
            "certbot's renewal timer may have been failing for weeks; read its log before renewing by hand.",
            (
                Step(
                    "check_certbot_status",
                    "Check certbot certificates and timer",
                    "diagnose",
                    "certbot certificates --cert-name {host} && systemctl status certbot.timer --no-pager && "
                    "tail -50 /var/log/letsencrypt/letsencrypt.log",
                    "See the certificate's expiry and why automatic renewal did not happen.",
                    "Expiry date, timer state and the last renewal error.",
                    60,
                    tools=("certbot", "systemctl"),
                ),
                Step(
                    "renew_certificate",
                    "Renew the certificate with certbot",
                    "mitigate",
                    "certbot renew --cert-name {host} --deploy-hook 'nginx -t && systemctl reload nginx'",
                    "Renew now and reload nginx only if its configuration still validates.",
                    "A new certificate valid for 90 days is served.",
                    300,
                    ("port 80 reachable for the HTTP-01 challenge or DNS credentials for DNS-01",),
                    "Restore the previous files from /etc/letsencrypt/archive/{host}/ and reload nginx.",
                    ("certbot", "nginx"),
                ),
            ),
            {"host": "{service}.example.com"},
        ),
        Profile(
            "cert-manager",
            "cert-manager on Kubernetes",
            ("kubernetes", "cert-manager"),
            ("ingress-nginx", "api-gateway", "grafana"),
            "A stuck ACME challenge leaves the old certificate in the Secret until it expires.",
            (
                Step(
                    "check_certificate_resource",
                    "Check the Certificate resource",
                    "diagnose",
                    "kubectl describe certificate {service}-tls -n {namespace} && kubectl get certificaterequests,"
                    "orders,challenges -n {namespace}",
                    "Find the failing order or challenge behind a certificate that is not Ready.",
                    "Certificate conditions and any pending challenges with their reasons.",
                    60,
                    tools=("kubectl",),
                ),
                Step(
                    "force_cert_manager_renewal",
                    "Force renewal with cmctl",
                    "mitigate",
                    "cmctl renew {service}-tls -n {namespace} && kubectl wait --for=condition=Ready "
                    "certificate/{service}-tls -n {namespace} --timeout=5m",
                    "Trigger a new issuance after fixing the challenge problem.",
                    "Certificate Ready with a new notAfter date.",
                    600,
                    ("challenge problem fixed (DNS record, ingress class, rate limits)",),
                    None,
                    ("cmctl", "kubectl"),
                ),
            ),
            {"host": "{service}.example.com"},
        ),
        Profile(
            "haproxy",
            "HAProxy and CDN Edge",
            ("haproxy", "load-balancer"),
            ("cdn", "api-gateway", "checkout"),
            "HAProxy needs the certificate, key and chain concatenated into one PEM.",
            (
                Step(
                    "install_haproxy_certificate",
                    "Install the new certificate in HAProxy",
                    "mitigate",
                    "cat {host}.crt intermediate.crt {host}.key > /etc/haproxy/certs/{host}.pem && "
                    "haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy",
                    "Deploy the renewed certificate with its chain and reload without dropping connections.",
                    "haproxy -c reports a valid configuration and the new certificate is served.",
                    300,
                    ("renewed certificate and key available",),
                    "Restore the previous PEM from /etc/haproxy/certs/backup/ and reload.",
                    ("haproxy",),
                ),
            ),
            {"host": "{service}.example.com"},
        ),
    ),
    steps=(
        Step(
            "check_certificate_expiry",
            "Check the served certificate's dates",
            "diagnose",
            "openssl s_client -connect {host}:443 -servername {host} </dev/null 2>/dev/null | "
            "openssl x509 -noout -subject -issuer -dates",
            "Check what clients actually receive, which may differ from the file on disk.",
            "Subject, issuer and notBefore/notAfter of the served certificate.",
            60,
            tools=("openssl",),
        ),
        Step(
            "check_certificate_chain",
            "Check the certificate chain",
            "diagnose",
            "openssl s_client -connect {host}:443 -servername {host} -showcerts </dev/null 2>/dev/null | "
            "grep -E '^ *[0-9] s:|^ *i:' && openssl s_client -connect {host}:443 -servername {host} "
            "</dev/null 2>/dev/null | grep 'Verify return code'",
            "A missing intermediate breaks some clients (mobile, Java) but not browsers.",
            "A complete chain and 'Verify return code: 0 (ok)'.",
            60,
            tools=("openssl",),
        ),
        Step(
            "verify_new_certificate",
            "Verify the renewed certificate from outside",
            "verify",
            "curl -svI https://{host}/ 2>&1 | grep -E 'expire date|issuer|SSL certificate verify'",
            "Confirm clients see the new expiry date through the real path (CDN, load balancer).",
            "An expire date months away and 'SSL certificate verify ok'.",
            60,
            tools=("curl",),
        ),
    ),
    branches=(
        Branch(
            "already_expired",
            "cert_days_remaining <= 0",
            "The certificate has expired and clients are failing: renew and reload now.",
            "mitigate",
            0.95,
        ),
        Branch(
            "expiring_imminently",
            'cert_days_remaining < {t} and severity in ["critical", "high"]',
            "Expiry is days away: renew today instead of waiting for automation.",
            "mitigate",
            0.9,
            ("3", "7"),
        ),
        Branch(
            "chain_problems",
            '"chain_incomplete" in symptoms or "tls_handshake_errors" in symptoms',
            "Handshakes fail with a valid certificate: inspect the served chain.",
            "diagnose",
            0.84,
        ),
    ),
    fallback=Branch(
        "renewal_window",
        "cert_days_remaining < {t}",
        "Inside the renewal window: find why automation has not renewed yet.",
        "diagnose",
        0.72,
        ("30", "45"),
    ),
    articles=(
        ArticleSpec(
            "configuration",
            "Renewing Let's Encrypt certificates with certbot",
            "Manual and automatic certbot renewal, deploy hooks, and the usual reasons renewal silently fails.",
            ("letsencrypt", "certbot", "tls", "nginx"),
            ("check_certbot_status", "renew_certificate", "verify_new_certificate"),
            (
                "Test renewal with certbot renew --dry-run after every web server configuration change.",
                "Use --deploy-hook to reload the web server only when a certificate was actually renewed.",
                "HTTP-01 needs /.well-known/acme-challenge/ reachable on port 80; redirects must not break it.",
                "Alert on certificates with fewer than 21 days left; certbot renews at 30.",
            ),
            "letsencrypt",
        ),
        ArticleSpec(
            "troubleshooting",
            "Debugging TLS handshake failures with openssl s_client",
            "Read s_client output to find expired certificates, missing intermediates, SNI mismatches and protocol "
            "problems.",
            ("openssl", "tls", "handshake", "sni"),
            ("check_certificate_expiry", "check_certificate_chain"),
            (
                "Always pass -servername; without SNI you may get the default certificate.",
                "'unable to get local issuer certificate' means the intermediate is missing from the chain.",
                "Use -tls1_2 / -tls1_3 to test protocol support when old clients fail.",
            ),
        ),
        ArticleSpec(
            "deployment",
            "Automating certificate rotation with cert-manager",
            "Issuers, Certificate resources and ACME challenges in cert-manager, and how to unstick a renewal.",
            ("cert-manager", "kubernetes", "acme", "tls"),
            ("check_certificate_resource", "force_cert_manager_renewal"),
            (
                "Use DNS-01 for wildcard certificates and clusters not reachable from the internet.",
                "Watch certmanager_certificate_expiration_timestamp_seconds in Prometheus.",
                "Staging issuers avoid Let's Encrypt rate limits while testing.",
            ),
            "cert-manager",
        ),
        ArticleSpec(
            "monitoring",
            "Monitoring certificate expiry with blackbox_exporter",
            "Probe every public endpoint and alert on probe_ssl_earliest_cert_expiry well before certificates expire.",
            ("blackbox-exporter", "prometheus", "tls", "expiry"),
            ("check_certificate_expiry", "verify_new_certificate"),
            (
                "Alert when probe_ssl_earliest_cert_expiry - time() < 14 days; page below 3 days.",
                "Probe through the CDN as well as the origin; they serve different certificates.",
                "Include internal mTLS endpoints; they expire too and nobody watches them.",
            ),
        ),
    ),
)
