//! The security queries that read the transaction tables (http(), tls(), dns()) on captures
//! this test writes with real parts (a real TLS stack's handshakes, certificates it signs) and on
//! the JA4 truth set: credentials with their HTTP context, rare JA4 and User-Agents, bad
//! certificates, public names answered with private addresses.

use crate::queries::{data, findings};

/// TCP segments of one connection for made captures: `open` writes the handshake; `send` a
/// segment from either side with its sequence numbers kept.
pub(crate) struct MadeTcp {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    seq: [u32; 2],
    t: i64,
    pub(crate) recs: Vec<(i64, Vec<u8>)>,
}

impl MadeTcp {
    pub(crate) fn new(client: ([u8; 4], u16), server: ([u8; 4], u16), t: i64) -> MadeTcp {
        MadeTcp {
            client,
            server,
            seq: [1000, 5000],
            t,
            recs: Vec::new(),
        }
    }

    pub(crate) fn segment(&mut self, from_client: bool, flags: &str, payload: &[u8]) {
        use etherparse::PacketBuilder;
        let (a, b) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (me, peer) = if from_client { (0, 1) } else { (1, 0) };
        let mut tcp = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(a.0, b.0, 64)
            .tcp(a.1, b.1, self.seq[me], 64000);
        if flags.contains('S') {
            tcp = tcp.syn();
        }
        if flags.contains('A') {
            tcp = tcp.ack(self.seq[peer]);
        }
        if flags.contains('P') {
            tcp = tcp.psh();
        }
        let mut v = Vec::new();
        tcp.write(&mut v, payload).unwrap();
        self.seq[me] = self.seq[me].wrapping_add(payload.len() as u32 + u32::from(flags.contains('S')));
        self.t += 1_000_000;
        self.recs.push((self.t, v));
    }

    pub(crate) fn open(&mut self) {
        self.segment(true, "S", b"");
        self.segment(false, "SA", b"");
        self.segment(true, "A", b"");
    }
}

/// HTTP Basic credentials come from the http() transactions (user, host, page, the server's
/// answer; never the password); one on a connection whose start was not captured, which http()
/// leaves out as Zeek does, is still reported from its packet.
#[test]
fn cleartext_http_basic_credentials_from_transactions_and_packets() {
    let tmp = tempfile::tempdir().unwrap();
    let s = 1_000_000_000i64;
    let request = |user_pass: &str| {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(user_pass);
        format!("GET /admin/ HTTP/1.1\r\nHost: router.example\r\nAuthorization: Basic {token}\r\n\r\n").into_bytes()
    };
    let reply = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
    let mut whole = MadeTcp::new(([10, 0, 0, 5], 40001), ([10, 0, 0, 1], 80), s);
    whole.open();
    whole.segment(true, "PA", &request("admin:hunter2"));
    whole.segment(false, "PA", reply);
    let mut midway = MadeTcp::new(([10, 0, 0, 6], 40002), ([10, 0, 0, 1], 8080), 2 * s);
    midway.segment(true, "PA", &request("guest:letmein"));
    midway.segment(false, "PA", reply);
    let mut recs: Vec<(i64, Vec<u8>)> = whole.recs.into_iter().chain(midway.recs).collect();
    recs.sort_by_key(|r| r.0);
    let path = tmp.path().join("basic.pcap");
    netql::capture::write::write_file(&path, 1, &recs).unwrap();
    let fs = findings(&data(&path), "cleartext_credentials", &[]);
    assert_eq!(fs.len(), 2, "{fs:?}");
    let from_http = fs
        .iter()
        .find(|f| f["facts"]["src"] == "10.0.0.5")
        .expect("the transaction");
    let t = from_http["title"].as_str().unwrap();
    assert!(
        t.starts_with("Clear-text HTTP Basic credentials from 10.0.0.5 to 10.0.0.1:80"),
        "{t}"
    );
    assert!(
        t.contains("router.example") && t.contains("user admin") && t.contains("401"),
        "{t}"
    );
    assert_eq!(from_http["facts"]["frames"], serde_json::json!([4]));
    let from_packet = fs.iter().find(|f| f["facts"]["src"] == "10.0.0.6").expect("the packet");
    let t = from_packet["title"].as_str().unwrap();
    assert!(t.contains("HTTP Basic user=guest"), "{t}");
    for f in &fs {
        let shown = f.to_string();
        assert!(
            !shown.contains("hunter2") && !shown.contains("letmein"),
            "a password leaked: {shown}"
        );
    }
}

/// One TLS 1.2 handshake between rustls' client and server, as far as the server's first flight
/// and the client's answer (an alert: its root store is empty, so it trusts no certificate),
/// written as TCP segments of `conn`.
fn tls12_handshake(conn: &mut MadeTcp, cert: &rcgen::Certificate, key: &rcgen::KeyPair, sni: &str) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let server_cfg = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .unwrap();
    let client_cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(client_cfg), name).unwrap();
    let mut server = rustls::ServerConnection::new(Arc::new(server_cfg)).unwrap();
    conn.open();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    conn.segment(true, "PA", &hello);
    server.read_tls(&mut &hello[..]).unwrap();
    server.process_new_packets().unwrap();
    let mut flight = Vec::new();
    server.write_tls(&mut flight).unwrap();
    assert!(
        flight.len() > cert.der().len(),
        "the server's flight carries its certificate"
    );
    conn.segment(false, "PA", &flight);
    client.read_tls(&mut &flight[..]).unwrap();
    assert!(
        client.process_new_packets().is_err(),
        "an empty root store trusts nothing"
    );
    let mut alert = Vec::new();
    client.write_tls(&mut alert).unwrap();
    conn.segment(true, "PA", &alert);
}

fn cert_params(name: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    p
}

/// Three servers seen on 2024-06-01: one with a certificate that expired in 2021, one with a
/// self-signed one, one with a current certificate from a CA. The first two are reported, with
/// the server hello's frame; the third is not.
#[test]
fn bad_certificates_are_judged_at_the_time_they_were_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = 1_717_200_000_000_000_000i64; // 2024-06-01
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = cert_params("Made Test CA", (2020, 1, 1), (2035, 1, 1));
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::Issuer::new(ca_params, ca_key);
    let servers = [
        ("expired.example", [10, 0, 0, 80], (2020, 1, 1), (2021, 1, 1), true),
        ("selfsigned.example", [10, 0, 0, 81], (2023, 1, 1), (2030, 1, 1), false),
        ("good.example", [10, 0, 0, 82], (2023, 1, 1), (2030, 1, 1), true),
    ];
    let mut recs = Vec::new();
    for (i, (name, ip, from, to, by_ca)) in servers.into_iter().enumerate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = cert_params(name, from, to);
        let cert = if by_ca {
            params.signed_by(&key, &ca).unwrap()
        } else {
            params.self_signed(&key).unwrap()
        };
        let client = ([10, 0, 0, 5], 40000 + i as u16);
        let mut conn = MadeTcp::new(client, (ip, 443), t0 + i as i64 * 1_000_000_000);
        tls12_handshake(&mut conn, &cert, &key, name);
        recs.extend(conn.recs);
    }
    recs.sort_by_key(|r| r.0);
    let path = tmp.path().join("certs.pcap");
    netql::capture::write::write_file(&path, 1, &recs).unwrap();
    let fs = findings(&data(&path), "bad_certificates", &[]);
    assert_eq!(fs.len(), 2, "{fs:#?}");
    let by_dst = |dst: &str| {
        fs.iter()
            .find(|f| f["facts"]["dst"] == dst)
            .unwrap_or_else(|| panic!("{dst}: {fs:#?}"))
    };
    let expired = by_dst("10.0.0.80");
    assert_eq!(expired["severity"], "medium");
    assert_eq!(expired["facts"]["problem"], "expired");
    assert_eq!(expired["facts"]["subject"], "CN=expired.example");
    assert_eq!(expired["facts"]["issuer"], "CN=Made Test CA");
    // Frames 1-3 are the handshake, 4 the ClientHello, 5 the server's flight.
    assert_eq!(expired["facts"]["frames"], serde_json::json!([5]));
    let selfsigned = by_dst("10.0.0.81");
    assert_eq!(selfsigned["severity"], "low");
    assert_eq!(selfsigned["facts"]["problem"], "self-signed");
    assert_eq!(selfsigned["facts"]["self_signed"], true);
    assert!(
        selfsigned["title"].as_str().unwrap().contains("CN=selfsigned.example"),
        "{selfsigned}"
    );
}

/// The JA4 truth captures together: five clients, 85 handshakes. The fingerprints the query
/// calls rare are those the truth set's own JA4 values make rare by the query's rule (one
/// client, at most 5 % of the handshakes).
#[test]
fn rare_ja4_matches_the_truth_sets_fingerprints() {
    let Some(truth) = netql::testdata::shared("truth-ja4/ja4-consolidated.tsv") else {
        return;
    };
    let pcaps = [
        "tls-handshake.pcapng",
        "browsers-x509.pcapng",
        "badcurveball.pcap",
        "tls-alpn-h2.pcap",
        "tls12.pcap",
    ];
    let text = std::fs::read_to_string(&truth).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (pcap, src, ja4) = (at("pcap"), at("src"), at("ja4_rust"));
    let rows: Vec<Vec<&str>> = lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|r| pcaps.contains(&r[pcap]) && !r[ja4].is_empty())
        .collect();
    let mut per_ja4: std::collections::BTreeMap<&str, (usize, std::collections::BTreeSet<&str>)> = Default::default();
    for r in &rows {
        let e = per_ja4.entry(r[ja4]).or_default();
        e.0 += 1;
        e.1.insert(r[src]);
    }
    let clients: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[src]).collect();
    assert!(
        rows.len() >= 20 && clients.len() >= 3,
        "the set is big enough for the rule"
    );
    let want: std::collections::BTreeSet<String> = per_ja4
        .iter()
        .filter(|(_, (n, c))| c.len() <= 1 && (*n as f64) <= rows.len() as f64 * 0.05)
        .map(|(k, _)| k.to_string())
        .collect();
    let dir = truth.parent().unwrap().join("pcap");
    let files: Vec<_> = pcaps
        .iter()
        .map(|p| {
            netql::table::load::load(
                &netql::table::catalog::CaptureFile::stat(&dir.join(p)).unwrap(),
                &crate::queries::opts(),
            )
            .unwrap()
        })
        .collect();
    let d = std::sync::Arc::new(netql::query::engine::Captures::new(files));
    let fs = findings(&d, "rare_ja4", &[]);
    let got: std::collections::BTreeSet<String> = fs
        .iter()
        .map(|f| f["facts"]["ja4"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);
    for f in &fs {
        assert_eq!(f["facts"]["of_handshakes"].as_u64(), Some(rows.len() as u64), "{f}");
        assert!(!f["facts"]["frames"].as_array().unwrap().is_empty(), "{f}");
    }
    // One capture alone has one client: nothing is rare there.
    assert!(findings(&data(&dir.join("tls-handshake.pcapng")), "rare_ja4", &[]).is_empty());
}

/// Seven clients fetch pages with one browser's User-Agent; one of them also runs a script with
/// its own. Only the script's agent is rare; with fewer clients nothing is judged.
#[test]
fn rare_user_agents_among_clients_that_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let mut recs = Vec::new();
    let mut t = 1_700_000_000_000_000_000i64;
    let mut port = 41000u16;
    let mut fetch = |client: u8, agent: &str, recs: &mut Vec<(i64, Vec<u8>)>| {
        port += 1;
        t += 1_000_000_000;
        let mut conn = MadeTcp::new(([10, 0, 1, client], port), ([192, 0, 2, 10], 80), t);
        conn.open();
        let req = format!("GET /news HTTP/1.1\r\nHost: intranet.example\r\nUser-Agent: {agent}\r\n\r\n");
        conn.segment(true, "PA", req.as_bytes());
        conn.segment(false, "PA", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        recs.extend(conn.recs);
    };
    for round in 0..5 {
        for client in 1..=7u8 {
            fetch(client, firefox, &mut recs);
        }
        if round == 0 {
            fetch(3, "python-requests/2.31.0", &mut recs);
        }
    }
    recs.sort_by_key(|r| r.0);
    let path = tmp.path().join("agents.pcap");
    netql::capture::write::write_file(&path, 1, &recs).unwrap();
    let fs = findings(&data(&path), "rare_user_agent", &[]);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0]["facts"]["src"], "10.0.1.3");
    assert_eq!(fs[0]["facts"]["agent"], "python-requests/2.31.0");
    assert_eq!(fs[0]["facts"]["of_requests"], 36);
    assert_eq!(fs[0]["facts"]["frames"].as_array().unwrap().len(), 1);
    let fewer = findings(&data(&path), "rare_user_agent", &[("min_clients", "8")]);
    assert!(fewer.is_empty(), "{fewer:#?}");
}

/// A resolver answers a public name with a private address (DNS rebinding), an internal name
/// with a private one and a public name with a public one: only the first is reported, citing
/// its reply.
#[test]
fn public_names_answered_with_private_addresses() {
    use etherparse::PacketBuilder;
    let tmp = tempfile::tempdir().unwrap();
    let mut recs = Vec::new();
    let t0 = 1_700_000_000_000_000_000i64;
    let lookups = [
        ("rebind.attacker.example", [192, 168, 1, 10]),
        ("nas.home.arpa", [192, 168, 1, 20]),
        ("printer.corp", [10, 1, 2, 3]),
        ("www.example.com", [93, 184, 216, 34]),
    ];
    for (i, (name, addr)) in lookups.into_iter().enumerate() {
        let qname = domain::base::Name::<Vec<u8>>::from_chars(name.chars()).unwrap();
        let mut q = domain::base::MessageBuilder::new_vec().question();
        q.header_mut().set_id(100 + i as u16);
        q.header_mut().set_rd(true);
        q.push((&qname, domain::base::iana::Rtype::A)).unwrap();
        let query = q.finish();
        let msg = domain::base::Message::from_octets(query.clone()).unwrap();
        let mut a = domain::base::MessageBuilder::new_vec()
            .start_answer(&msg, domain::base::iana::Rcode::NOERROR)
            .unwrap();
        a.push((
            &qname,
            300,
            domain::rdata::A::from_octets(addr[0], addr[1], addr[2], addr[3]),
        ))
        .unwrap();
        let reply = a.finish();
        let port = 50000 + i as u16;
        for (k, (src, dst, sp, dp, body)) in [
            ([10, 0, 0, 9], [10, 0, 0, 53], port, 53, &query),
            ([10, 0, 0, 53], [10, 0, 0, 9], 53, port, &reply),
        ]
        .into_iter()
        .enumerate()
        {
            let mut v = Vec::new();
            PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4(src, dst, 64)
                .udp(sp, dp)
                .write(&mut v, body)
                .unwrap();
            recs.push((t0 + (2 * i + k) as i64 * 1_000_000, v));
        }
    }
    let path = tmp.path().join("rebind.pcap");
    netql::capture::write::write_file(&path, 1, &recs).unwrap();
    let fs = findings(&data(&path), "dns_private_answers", &[]);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0]["facts"]["name"], "rebind.attacker.example");
    assert_eq!(fs[0]["facts"]["addresses"], serde_json::json!(["192.168.1.10"]));
    assert_eq!(fs[0]["facts"]["frames"], serde_json::json!([2]));
    assert_eq!(fs[0]["severity"], "medium");
}
