/*
 * test_config_load — the configuration loader as an operator meets it:
 * every broken snippet is refused with FILE:LINE:COL pointing at the
 * culprit, good snippets give the documented values, defaults match
 * hostile-inputs.md's "Proposed defaults", the shipped example and the
 * demo config load, and the per-message lookups (domain ownership,
 * client address, user, certificate) answer like policy needs (TN-02).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/msg/buf.h"
#include "tests/unit/t.h"

static char	tmpdir[] = "/tmp/signet-config-XXXXXX";

/* Four lines every snippet needs; snippets start on line 5. */
#define BASE \
	"listen: [{ address: \"127.0.0.1:2525\" }]\n" \
	"upstream: { address: \"file:/tmp/out\" }\n" \
	"keystore: /k\n" \
	"spool: /s\n"

#define PW	"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"

static void
write_file(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

/* Load text from a real file, as signetd does; errors land in *errs. */
static const struct config *
load(const char *text, struct buf **errs)
{
	char	path[256];

	snprintf(path, sizeof(path), "%s/t.yaml", tmpdir);
	write_file(path, text);
	if ((*errs = buf_new(1 << 20)) == NULL) {
		printf("Bail out! no memory\n");
		exit(1);
	}
	return config_load(path, *errs);
}

static const char *
errtext(struct buf *errs)
{
	const char	*s = buf_cstr(errs);

	return s != NULL ? s : "";
}

/* ------------------------------------------------------------------ */

struct bad_case {
	const char	*name;
	const char	*yaml;
	const char	*want;	/* ":LINE:COL: message" substring */
};

static const struct bad_case bad_cases[] = {
	{ "syntax error", BASE "limits: [\n",
	    ":6:1: YAML syntax error" },
	{ "unknown top-level key", BASE "bogus: 1\n",
	    ":5:1: unknown key 'bogus'" },
	{ "duplicate key", BASE "keystore: /again\n",
	    ":5:1: duplicate key 'keystore'" },
	{ "scalar where a mapping goes", BASE "limits: 5\n",
	    ":5:9: limits: expected a mapping, found a scalar" },
	{ "scalar where a sequence goes", BASE "tenants: x\n",
	    ":5:10: tenants: expected a sequence, found a scalar" },
	{ "mapping where a scalar goes", BASE "user: { a: b }\n",
	    ":5:7: user: expected a scalar, found a mapping" },
	{ "missing value", "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"file:/tmp/out\" }\nkeystore:\nspool: /s\n",
	    ":3:10: keystore: missing value" },
	{ "missing required key", "listen: [{ address: \"127.0.0.1:1\" }]\n",
	    ":1:1: missing required key 'upstream'" },
	{ "empty file", "", ":1:1: empty configuration" },
	{ "top level is a sequence", "- a\n",
	    ":1:1: expected a mapping, found a sequence" },
	{ "two documents", BASE "---\nfoo: 1\n",
	    ":6:1: only one YAML document is allowed" },
	{ "alias", "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"file:/tmp/out\" }\n"
	    "keystore: &k /k\nspool: *k\n",
	    ": YAML aliases are not supported" },
	{ "non-scalar key", BASE "? [a]\n: 1\n",
	    ":5:3: keys must be scalars, found a sequence" },
	{ "control octet in a path", BASE "user: \"a\\x01\"\n",
	    ":5:7: user: invalid user name" },
	{ "control octet in keystore",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"file:/tmp/out\" }\n"
	    "keystore: \"/k\\x01\"\nspool: /s\n",
	    ":3:11: keystore: control or non-ASCII octet at offset 2" },
	/* sizes and durations */
	{ "size out of range", BASE "limits:\n  max_message_size: 5G\n",
	    ":6:21: max_message_size: 5G out of range (1K..1G)" },
	{ "size syntax", BASE "limits:\n  max_message_size: 10MB\n",
	    ":6:21: max_message_size: invalid size '10MB'" },
	{ "size overflow", BASE
	    "limits:\n  max_message_size: 99999999999999999999G\n",
	    ":6:21: max_message_size: invalid size" },
	{ "negative number", BASE "limits:\n  max_recipients: -1\n",
	    ":6:19: max_recipients: invalid number '-1'" },
	{ "recipients zero", BASE "limits:\n  max_recipients: 0\n",
	    ":6:19: max_recipients: 0 out of range (1..100000)" },
	{ "command line below RFC 5321 minimum", BASE
	    "limits:\n  command_line_max: 100\n",
	    ":6:21: command_line_max: 100 out of range (512..64K)" },
	{ "duration syntax", BASE "limits:\n  idle_timeout: 5 minutes\n",
	    ":6:17: idle_timeout: invalid duration '5 minutes'" },
	{ "duration out of range", BASE "limits:\n  idle_timeout: 2h\n",
	    ":6:17: idle_timeout: 2h out of range (1s..1h)" },
	{ "duplicate section", BASE
	    "upstream:\n", ":5:1: duplicate key 'upstream'" },
	{ "soft above hard error limit", BASE
	    "limits:\n  soft_error_limit: 30\n",
	    ":6:3: limits: soft_error_limit above hard_error_limit" },
	{ "header field above header section", BASE
	    "limits:\n  header_field_max: 2M\n",
	    ":6:3: limits: header_field_max above header_size_max" },
	{ "whole seconds", BASE "rotation:\n  skew: 1500ms\n",
	    ":6:9: skew: must be whole seconds" },
	{ "skew at the TSIG fudge", BASE "rotation:\n  skew: 300s\n",
	    ":6:9: skew: 300s out of range (0s..299s)" },
	{ "self-check over a day", BASE "rotation:\n  self_check: 2d\n",
	    ":6:15: self_check: 2d out of range (0s..1d)" },
	{ "period too short for rotation", BASE
	    "rotation:\n  period: 1d\n  max_transit: 1d\n",
	    ":6:3: rotation: period must exceed max_transit" },
	{ "spool memory too big", BASE "spool_memory_max: 1G\n",
	    ":5:19: spool_memory_max: 1G out of range (4K..64M)" },
	/* listeners */
	{ "invalid enum", "listen:\n  - address: 127.0.0.1:25\n"
	    "    auth: maybe\n" "upstream: { address: \"file:/o\" }\n"
	    "keystore: /k\nspool: /s\n",
	    ":3:11: auth: invalid value 'maybe' (expected off, optional, "
	    "required)" },
	{ "auth required without TLS on a public address",
	    "listen:\n  - address: 192.0.2.1:25\n    auth: required\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:5: auth: required needs TLS" },
	{ "auth optional without TLS on a public address (TL-06)",
	    "listen:\n  - address: 192.0.2.1:25\n    auth: optional\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:5: auth: optional needs TLS" },
	{ "auth required without TLS on IPv6 any",
	    "listen:\n  - address: \"[::]:25\"\n    auth: required\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:5: auth: required needs TLS" },
	{ "host name as listen address",
	    "listen:\n  - address: localhost:25\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:14: address: invalid listen address 'localhost:25'" },
	{ "port 0", "listen:\n  - address: 127.0.0.1:0\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:14: address: invalid listen address" },
	{ "port 65536", "listen:\n  - address: 127.0.0.1:65536\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:14: address: invalid listen address" },
	{ "IPv6 without brackets", "listen:\n  - address: \"::1:25\"\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:14: address: invalid listen address" },
	{ "no port", "listen:\n  - address: 127.0.0.1\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:14: address: invalid listen address" },
	{ "no listener", "listen: []\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":1:9: listen: at least one listener is needed" },
	{ "listener twice", "listen:\n  - address: 127.0.0.1:25\n"
	    "  - address: 127.0.0.1:25\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":3:5: listener 127.0.0.1 port 25 is listed twice" },
	{ "implicit TLS without a certificate",
	    "listen:\n  - address: 127.0.0.1:465\n    implicit_tls: true\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":2:5: implicit_tls needs starttls" },
	{ "starttls without key",
	    "listen:\n  - address: 127.0.0.1:25\n    starttls: { cert: /c }\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":3:15: missing required key 'key'" },
	{ "bare_lf value", "listen:\n  - address: 127.0.0.1:25\n"
	    "    bare_lf: normalize\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    ":3:14: bare_lf: invalid value 'normalize' (expected reject)" },
	/* upstream */
	{ "upstream without address",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { starttls: off }\nkeystore: /k\nspool: /s\n",
	    ":2:11: missing required key 'address'" },
	{ "upstream empty file path",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"file:\" }\nkeystore: /k\nspool: /s\n",
	    ":2:22: address: invalid upstream 'file:'" },
	{ "upstream implicit TLS and STARTTLS",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream:\n  address: 192.0.2.1:465\n  implicit_tls: true\n"
	    "  starttls: required\nkeystore: /k\nspool: /s\n",
	    ":3:3: upstream: implicit_tls and starttls exclude each other" },
	{ "upstream final timeout at 600 s",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream:\n  address: 192.0.2.1:25\n  timeouts: { final: 600s }\n"
	    "keystore: /k\nspool: /s\n",
	    ":4:22: final: 600s out of range (1s..590s)" },
	{ "upstream auth without secret",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream:\n  address: 192.0.2.1:25\n  auth: { user: u }\n"
	    "keystore: /k\nspool: /s\n",
	    ":4:9: missing required key 'secret_file'" },
	/* signing */
	{ "headers without from", BASE "signing:\n  headers: [to, subject]\n",
	    ":6:12: headers: must include 'from'" },
	{ "signing a trace field", BASE
	    "signing:\n  headers: [from, Received]\n",
	    ":6:19: headers: 'received' must not be signed" },
	{ "header name with a colon", BASE
	    "signing:\n  headers: [from, \"x:y\"]\n",
	    ":6:19: headers: invalid header field name 'x:y'" },
	{ "duplicate header", BASE "signing:\n  headers: [from, From]\n",
	    ":6:19: headers: duplicate entry 'from'" },
	{ "oversign outside headers", BASE
	    "signing:\n  headers: [from]\n  oversign: [from, to]\n",
	    ":7:13: oversign: 'to' is not in headers" },
	{ "canonicalization", BASE
	    "signing:\n  canonicalization: relaxed/strict\n",
	    ":6:21: canonicalization: invalid value 'relaxed/strict'" },
	{ "RSA under 1024 bits", BASE "signing:\n  bits: 512\n",
	    ":6:9: bits: 512 out of range (1024..4096)" },
	{ "short expiration", BASE "signing:\n  expiration: 30m\n",
	    ":6:3: expiration: use 0 (no x=) or at least 1h" },
	/* domains */
	{ "invalid domain", BASE "domains:\n  exa_mple..com: {}\n",
	    ":6:3: domains: invalid domain name 'exa_mple..com'" },
	{ "label over 63", BASE "domains:\n  "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".com: {}\n", ":6:3: domains: invalid domain name" },
	{ "hyphen at label start", BASE "domains:\n  -x.com: {}\n",
	    ":6:3: domains: invalid domain name '-x.com'" },
	{ "duplicate domain after normalization", BASE
	    "domains:\n  example.com: {}\n  EXAMPLE.com.: {}\n",
	    ":7:3: domain example.com is listed twice" },
	{ "selector syntax", BASE
	    "domains:\n  example.com: { selectors: [s_1] }\n",
	    ":6:30: selectors: invalid selector 's_1'" },
	{ "no selectors", BASE "domains:\n  example.com: { selectors: [] }\n",
	    ":6:29: selectors: between 1 and 16 selectors" },
	{ "bits with ed25519", BASE
	    "domains:\n  example.com: { algorithm: ed25519, bits: 2048 }\n",
	    ":6:16: bits: applies to rsa keys only" },
	{ "unknown domain key", BASE
	    "domains:\n  example.com: { selector: s1 }\n",
	    ":6:18: unknown key 'selector'" },
	{ "resolver address needs a port", BASE
	    "resolver: { nameservers: [127.0.0.1] }\n",
	    ":5:27: nameservers: invalid address '127.0.0.1'" },
	{ "resolver names no host names", BASE
	    "resolver: { nameservers: [\"ns.example:53\"] }\n",
	    "nameservers: invalid address 'ns.example:53'" },
	{ "at most three resolvers", BASE
	    "resolver: { nameservers: [127.0.0.1:1, 127.0.0.1:2, "
	    "127.0.0.1:3, 127.0.0.1:4] }\n",
	    ":5:26: nameservers: at most 3" },
	{ "resolver timeout bounded", BASE "resolver: { timeout: 2m }\n",
	    "timeout" },
	{ "ARC without selector", BASE
	    "domains:\n  example.com:\n    arc: { enabled: true }\n",
	    ":7:10: arc: enabled needs selector and authserv_id" },
	{ "ARC selector shared with DKIM", BASE
	    "domains:\n  example.com:\n"
	    "    arc: { selector: s1, authserv_id: mx.example.com }\n",
	    ":7:10: arc: selector s1 is also a DKIM selector" },
	{ "dual-selector needs two", BASE
	    "rotation:\n  dns: { backend: exec, exec: { hook: /bin/true } }\n"
	    "domains:\n  example.com: { selectors: [a, b, c] }\n",
	    ":8:3: domain example.com: strategy dual-selector needs exactly "
	    "two selectors" },
	{ "domain outside the zone", BASE
	    "rotation:\n  dns: { zone: other.test }\n"
	    "domains:\n  example.com: {}\n",
	    ":8:3: domain example.com: its _domainkey records are not inside "
	    "zone other.test" },
	{ "zone below another name", BASE
	    "domains:\n  example.com: { zone: _domainkey.sub.example.com }\n",
	    ":6:3: domain example.com: its _domainkey records are not inside "
	    "zone _domainkey.sub.example.com" },
	{ "zone below the domain, not _domainkey", BASE
	    "domains:\n  example.com: { zone: mail.example.com }\n",
	    ":6:3: domain example.com: its _domainkey records are not inside "
	    "zone mail.example.com" },
	{ "zone per selector", BASE
	    "domains:\n  example.com: { zone: s1._domainkey.example.com }\n",
	    ":6:3: domain example.com: its _domainkey records are not inside "
	    "zone s1._domainkey.example.com" },
	{ "look-alike zone", BASE
	    "domains:\n  example.com: { zone: badexample.com }\n",
	    ":6:3: domain example.com: its _domainkey records are not inside "
	    "zone badexample.com" },
	/* rotation backends */
	{ "rfc2136 without TSIG", BASE
	    "rotation:\n  dns: { backend: rfc2136, server: 127.0.0.1:53 }\n",
	    ":6:8: dns: backend rfc2136 needs tsig" },
	{ "rfc2136 without server", BASE
	    "rotation:\n  dns:\n    backend: rfc2136\n"
	    "    tsig: { name: k, secret_file: /t }\n",
	    ":7:5: dns: backend rfc2136 needs server" },
	{ "relative hook", BASE
	    "rotation:\n  dns: { backend: exec, exec: { hook: bin/hook } }\n",
	    ":6:39: hook: must be an absolute path" },
	{ "settings of another backend", BASE
	    "rotation:\n  dns:\n    backend: exec\n"
	    "    exec: { hook: /h }\n    zonefile: { path: /z }\n",
	    ":7:5: dns: settings for a backend other than the one selected" },
	{ "TSIG algorithm", BASE "rotation:\n  dns:\n    backend: rfc2136\n"
	    "    server: 127.0.0.1:53\n"
	    "    tsig: { name: k, algorithm: hmac-md5, secret_file: /t }\n",
	    ":9:33: algorithm: invalid value 'hmac-md5'" },
	{ "DNS server by name", BASE
	    "rotation:\n  dns: { backend: rfc2136, server: ns.example:53 }\n",
	    ":6:36: server: invalid address 'ns.example:53'" },
	/* tenants */
	{ "tenant domain not in domains:", BASE
	    "domains:\n  example.com: {}\ntenants:\n  - name: a\n"
	    "    networks: [127.0.0.1]\n    domains: [other.test]\n",
	    ":10:15: domains: other.test is not listed in domains:" },
	{ "two tenants own one domain", BASE
	    "domains:\n  example.com: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [example.com] }\n"
	    "  - { name: b, networks: [10.1.0.0/16], "
	    "domains: [Example.COM.] }\n",
	    ":9:51: domains: example.com already belongs to tenant 'a'" },
	{ "two tenants own one wildcard", BASE
	    "domains:\n  example.com: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], "
	    "domains: [\"*.example.com\"] }\n"
	    "  - { name: b, networks: [10.1.0.0/16], "
	    "domains: [\"*.example.com\"] }\n",
	    ":9:51: domains: *.example.com already belongs to tenant 'a'" },
	{ "wildcard signed as a parent it does not own", BASE
	    "domains:\n  example.com: { subdomains: true }\ntenants:\n"
	    "  - name: a\n    networks: [127.0.0.1]\n"
	    "    domains: [\"*.example.com\"]\n",
	    ":10:15: domains: *.example.com is signed as example.com "
	    "(subdomains: true), so the tenant must also own example.com" },
	{ "subdomain signed as a parent another tenant owns", BASE
	    "domains:\n  example.com: { subdomains: true }\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [example.com] }\n"
	    "  - { name: b, networks: [10.1.0.0/16], "
	    "domains: [x.example.com] }\n",
	    ":9:51: domains: x.example.com is signed as example.com" },
	{ "duplicate tenant name", BASE
	    "domains:\n  a.test: {}\n  b.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [a.test] }\n"
	    "  - { name: a, networks: [10.1.0.0/16], domains: [b.test] }\n",
	    ":10:13: tenant name 'a' is already used" },
	{ "tenant name with a space", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: \"a b\", networks: [10.0.0.0/8], "
	    "domains: [a.test] }\n",
	    ":8:13: name: tenant names are 1-64 of" },
	{ "tenant nobody can use", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, domains: [a.test] }\n",
	    ":8:5: tenant 'a': needs networks, users or certificates" },
	{ "tenant without domains", BASE
	    "tenants:\n  - { name: a, networks: [10.0.0.0/8] }\n",
	    ":6:5: tenant 'a': needs at least one domain" },
	{ "CIDR prefix too long", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/33], domains: [a.test] }\n",
	    ":8:27: networks: invalid CIDR '10.0.0.0/33'" },
	{ "CIDR host bits", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.1/8], domains: [a.test] }\n",
	    ":8:27: networks: host bits set in '10.0.0.1/8'" },
	{ "IPv6 CIDR host bits", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [\"2001:db8::1/64\"], "
	    "domains: [a.test] }\n",
	    ":8:27: networks: host bits set in '2001:db8::1/64'" },
	{ "CIDR garbage", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0/8], domains: [a.test] }\n",
	    ":8:27: networks: invalid CIDR '10.0.0/8'" },
	{ "network in two tenants", BASE
	    "domains:\n  a.test: {}\n  b.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [a.test] }\n"
	    "  - { name: b, networks: [10.0.0.0/8], domains: [b.test] }\n",
	    ":10:27: networks: 10.0.0.0/8 already belongs to tenant 'a'" },
	{ "plain password", BASE
	    "domains:\n  a.test: {}\ntenants:\n  - name: a\n"
	    "    users: [{ name: u, password: secret }]\n"
	    "    domains: [a.test]\n",
	    ":9:13: users: password must be an argon2id string" },
	{ "user in two tenants", BASE
	    "domains:\n  a.test: {}\n  b.test: {}\ntenants:\n"
	    "  - { name: a, users: [{ name: u, password: \"" PW "\" }], "
	    "domains: [a.test] }\n"
	    "  - { name: b, users: [{ name: u, password: \"" PW "\" }], "
	    "domains: [b.test] }\n",
	    ":10:24: users: user 'u' already belongs to tenant 'a'" },
	{ "user name with a space", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, users: [{ name: \"u v\", password: \"" PW "\" }], "
	    "domains: [a.test] }\n",
	    ":8:24: users: name must be 1-255 printable octets" },
	{ "certificate format", BASE
	    "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, certificates: [\"md5:00\"], domains: [a.test] }\n",
	    ":8:31: certificates: expected \"sha256:\" and 32 hex octets" },
	{ "certificate in two tenants", BASE
	    "domains:\n  a.test: {}\n  b.test: {}\ntenants:\n"
	    "  - { name: a, certificates: [\"sha256:"
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "\"], domains: [a.test] }\n"
	    "  - { name: b, certificates: [\"SHA256:"
	    "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:"
	    "15:16:17:18:19:1A:1B:1C:1D:1E:1F\"], domains: [b.test] }\n",
	    ":10:31: certificates: already belongs to tenant 'a'" },
	{ "extra signature domain unknown", BASE
	    "domains:\n  a.test: {}\ntenants:\n  - name: a\n"
	    "    networks: [127.0.0.1]\n    domains: [a.test]\n"
	    "    extra_signatures: [{ domain: esp.test, selector: s1 }]\n",
	    ":11:24: extra_signatures: esp.test is not listed in domains:" },
	{ "extra signature selector unknown", BASE
	    "domains:\n  a.test: {}\n  esp.test: {}\ntenants:\n  - name: a\n"
	    "    networks: [127.0.0.1]\n    domains: [a.test]\n"
	    "    extra_signatures: [{ domain: esp.test, selector: s9 }]\n",
	    ":12:24: extra_signatures: s9 is not a selector of esp.test" },
	{ "unsigned value", BASE
	    "domains:\n  a.test: {}\ntenants:\n  - name: a\n"
	    "    networks: [127.0.0.1]\n    domains: [a.test]\n"
	    "    unsigned: sometimes\n",
	    ":11:15: unsigned: invalid value 'sometimes' (expected refuse, "
	    "allow)" },
	{ "tenants twice, the first longer", BASE
	    "domains:\n  a.test: {}\n  b.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [a.test] }\n"
	    "  - { name: b, networks: [10.1.0.0/16], domains: [b.test] }\n"
	    "tenants: []\n",
	    ":11:1: duplicate key 'tenants'" },
	{ "tenants_dir missing", BASE "tenants_dir: /nonexistent/signet\n",
	    ":5:14: tenants_dir: /nonexistent/signet: No such file" },
	/* the rest of the top level */
	{ "workers zero", BASE "workers: 0\n",
	    ":5:10: workers: expected auto or 1..256" },
	{ "system user name", BASE "user: Root!\n",
	    ":5:7: user: invalid user name" },
	{ "metrics without listen", BASE "metrics: {}\n",
	    ":5:10: missing required key 'listen'" },
	{ "metrics on a name", BASE "metrics: { listen: \"localhost:9125\" }\n",
	    ":5:20: listen: invalid address 'localhost:9125'" },
	{ "log level", BASE "log: { level: loud }\n",
	    ":5:15: level: invalid value 'loud'" },
	{ "boolean", BASE "log: { stderr: maybe }\n",
	    ":5:16: stderr: expected true or false" },
	{ "connection cache boolean", "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream:\n  address: 127.0.0.1:25\n  connection_cache: 5s\n"
	    "keystore: /k\nspool: /s\n",
	    ":4:21: connection_cache: expected true or false" },
	{ "chunking enum", "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream:\n  address: 127.0.0.1:25\n  chunking: maybe\n"
	    "keystore: /k\nspool: /s\n",
	    ":4:13: chunking: invalid value 'maybe' (expected auto, off)" },
};

static void
test_bad(void)
{
	const struct config	*cfg;
	struct buf		*errs;
	size_t			 i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case	*c = &bad_cases[i];

		cfg = load(c->yaml, &errs);
		T_OK(cfg == NULL, "refused: %s", c->name);
		if (!T_OK(strstr(errtext(errs), c->want) != NULL,
		    "message: %s", c->name)) {
			printf("#   want \"%s\"\n", c->want);
			t_diag_bytes("got ", buf_data(errs), buf_len(errs));
		}
		config_free(cfg);
		buf_free(errs);
	}
}

/* ------------------------------------------------------------------ */

typedef long long	(*getter)(const struct config *);
typedef const char	*(*sgetter)(const struct config *);

#define GET(name, expr) \
	static long long name(const struct config *c) \
	{ return (long long)(expr); }
#define SGET(name, expr) \
	static const char *name(const struct config *c) { return (expr); }

GET(g_res_n, c->resolver.nnameservers)
GET(g_res_port1, c->resolver.nameservers[1].port)
GET(g_msgsize, c->limits.max_message_size)
GET(g_idle, c->limits.idle_timeout_ms)
GET(g_errdelay, c->limits.error_delay_ms)
GET(g_greet, c->limits.greeting_delay_ms)
GET(g_expire, c->signing.expiration_s)
GET(g_period, c->rotation.period_s)
GET(g_spoolmem, c->spool_memory_max)
GET(g_workers, c->workers)
GET(g_canon_h, c->signing.canon_header)
GET(g_canon_b, c->signing.canon_body)
GET(g_level, c->log_level)
GET(g_stderr, c->log_stderr)
GET(g_nheaders, c->signing.nheaders)
GET(g_l0_family, c->listeners[0].address.sa.ss_family)
GET(g_l0_port, c->listeners[0].address.port)
GET(g_l0_auth, c->listeners[0].auth)
GET(g_l0_proxy, c->listeners[0].proxy_protocol)
GET(g_up_isip, c->upstream.address.is_ip)
GET(g_up_port, c->upstream.address.port)
GET(g_up_tls, c->upstream.starttls)
GET(g_up_final, c->upstream.final_timeout_ms)
GET(g_up_cache, c->upstream.connection_cache)
GET(g_up_chunking, c->upstream.chunking)
GET(g_d0_nsel, c->domains[0].nselectors)
GET(g_d0_alg, c->domains[0].algorithm)
GET(g_d0_bits, c->domains[0].bits)
GET(g_backend, c->rotation.backend)
GET(g_tsig_alg, c->rotation.tsig_algorithm)
GET(g_nauth, c->rotation.nauthoritative)
GET(g_auth1_port, c->rotation.authoritative[1].port)
GET(g_t0_rate, c->tenants[0].rate_messages)
GET(g_t0_window, c->tenants[0].rate_window_s)
GET(g_t0_unsigned, c->tenants[0].unsigned_mail)
GET(g_t0_null, c->tenants[0].allow_null_sender)
SGET(s_user, c->user)
SGET(s_l0_host, c->listeners[0].address.host)
SGET(s_up_host, c->upstream.address.host)
SGET(s_up_dir, c->upstream.file_dir)
SGET(s_h0, c->signing.headers[0])
SGET(s_d0_name, c->domains[0].name)
SGET(s_d0_sel1, c->domains[0].selectors[1])
SGET(s_d0_zone, c->domains[0].zone)
SGET(s_d1_name, c->domains[1].name)
SGET(s_t0_dom0, c->tenants[0].domains[0].name)

struct good_case {
	const char	*name;
	const char	*yaml;
	getter		 get;
	long long	 want;
	sgetter		 sget;
	const char	*swant;
};

static const struct good_case good_cases[] = {
	{ "size with K", BASE "limits: { max_message_size: 512K }\n",
	    g_msgsize, 512 * 1024, NULL, NULL },
	{ "size with M", BASE "limits: { max_message_size: 50M }\n",
	    g_msgsize, 50LL * 1024 * 1024, NULL, NULL },
	{ "size in octets", BASE "limits: { max_message_size: 2000 }\n",
	    g_msgsize, 2000, NULL, NULL },
	{ "duration in minutes", BASE "limits: { idle_timeout: 5m }\n",
	    g_idle, 300000, NULL, NULL },
	{ "duration as bare seconds", BASE "limits: { idle_timeout: 3 }\n",
	    g_idle, 3000, NULL, NULL },
	{ "duration in ms", BASE "limits: { error_delay: 200ms }\n",
	    g_errdelay, 200, NULL, NULL },
	{ "zero greeting delay", BASE "limits: { greeting_delay: 0 }\n",
	    g_greet, 0, NULL, NULL },
	{ "expiration 0 means no x=", BASE "signing: { expiration: 0 }\n",
	    g_expire, 0, NULL, NULL },
	{ "expiration in days", BASE "signing: { expiration: 7d }\n",
	    g_expire, 7 * 86400, NULL, NULL },
	{ "period in weeks", BASE "rotation: { period: 2w }\n",
	    g_period, 14 * 86400, NULL, NULL },
	{ "spool memory", BASE "spool_memory_max: 2M\n",
	    g_spoolmem, 2 * 1024 * 1024, NULL, NULL },
	{ "workers number", BASE "workers: 4\n", g_workers, 4, NULL, NULL },
	{ "connection cache off", "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"127.0.0.1:25\", connection_cache: false }\n"
	    "keystore: /k\nspool: /s\n", g_up_cache, 0, NULL, NULL },
	{ "chunking auto by default", BASE, g_up_chunking,
	    CONFIG_CHUNKING_AUTO, NULL, NULL },
	{ "chunking off", "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"127.0.0.1:25\", chunking: off }\n"
	    "keystore: /k\nspool: /s\n", g_up_chunking, CONFIG_CHUNKING_OFF,
	    NULL, NULL },
	{ "resolvers", BASE "resolver:\n  nameservers: [127.0.0.1:5300, "
	    "\"[::1]:5301\"]\n  timeout: 2s\n", g_res_n, 2, NULL, NULL },
	{ "resolver IPv6 port", BASE "resolver:\n  nameservers: "
	    "[127.0.0.1:5300, \"[::1]:5301\"]\n", g_res_port1, 5301, NULL,
	    NULL },
	{ "workers auto", BASE "workers: auto\n", g_workers, 0, NULL, NULL },
	{ "canonicalization alone is header/simple", BASE
	    "signing: { canonicalization: relaxed }\n",
	    g_canon_b, CONFIG_CANON_SIMPLE, NULL, NULL },
	{ "canonicalization header part", BASE
	    "signing: { canonicalization: simple/relaxed }\n",
	    g_canon_h, CONFIG_CANON_SIMPLE, NULL, NULL },
	{ "canonicalization body part", BASE
	    "signing: { canonicalization: simple/relaxed }\n",
	    g_canon_b, CONFIG_CANON_RELAXED, NULL, NULL },
	{ "headers lower-cased", BASE
	    "signing: { headers: [From, X-Mailer], oversign: [FROM] }\n",
	    g_nheaders, 2, s_h0, "from" },
	{ "log level", BASE "log: { level: debug, stderr: yes }\n",
	    g_level, LOG_DEBUG, NULL, NULL },
	{ "log stderr", BASE "log: { level: debug, stderr: yes }\n",
	    g_stderr, 1, NULL, NULL },
	{ "system user", BASE "user: signet\n", NULL, 0, s_user, "signet" },
	{ "IPv6 listener family", "listen:\n  - address: \"[::1]:2526\"\n"
	    "    auth: required\n    proxy_protocol: v2\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    g_l0_family, AF_INET6, s_l0_host, "::1" },
	{ "IPv6 listener port", "listen:\n  - address: \"[::1]:2526\"\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    g_l0_port, 2526, NULL, NULL },
	{ "auth required on loopback without TLS",
	    "listen:\n  - address: 127.0.0.2:25\n    auth: required\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    g_l0_auth, CONFIG_AUTH_REQUIRED, NULL, NULL },
	{ "auth required on a public address with TLS",
	    "listen:\n  - address: 192.0.2.1:587\n    auth: required\n"
	    "    starttls: { cert: /c, key: /k }\n    proxy_protocol: any\n"
	    "upstream: { address: \"file:/o\" }\nkeystore: /k\nspool: /s\n",
	    g_l0_proxy, CONFIG_PROXY_ANY, NULL, NULL },
	{ "upstream host name normalized",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"Mail.Example.NET.:587\" }\n"
	    "keystore: /k\nspool: /s\n",
	    g_up_isip, 0, s_up_host, "mail.example.net" },
	{ "upstream port", "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"[2001:db8::25]:10025\" }\n"
	    "keystore: /k\nspool: /s\n",
	    g_up_port, 10025, s_up_host, "2001:db8::25" },
	{ "upstream file sink", BASE, NULL, 0, s_up_dir, "/tmp/out" },
	{ "upstream implicit TLS turns STARTTLS off",
	    "listen: [{ address: \"127.0.0.1:2525\" }]\n"
	    "upstream: { address: \"192.0.2.1:465\", implicit_tls: true }\n"
	    "keystore: /k\nspool: /s\n",
	    g_up_tls, CONFIG_TLS_OFF, NULL, NULL },
	{ "upstream final timeout", "listen: [{ address: \"127.0.0.1:1\" }]\n"
	    "upstream:\n  address: 127.0.0.1:25\n  timeouts: { final: 3s }\n"
	    "keystore: /k\nspool: /s\n", g_up_final, 3000, NULL, NULL },
	{ "domain default selectors", BASE "domains:\n  example.com:\n",
	    g_d0_nsel, 2, s_d0_sel1, "s2" },
	{ "domain algorithm from signing", BASE
	    "signing: { algorithm: ed25519 }\ndomains:\n  example.com: {}\n",
	    g_d0_alg, CONFIG_ALG_ED25519, NULL, NULL },
	{ "domain bits from signing", BASE
	    "signing: { bits: 4096 }\ndomains:\n  example.com: {}\n",
	    g_d0_bits, 4096, NULL, NULL },
	{ "domain name normalized", BASE "domains:\n  Example.COM.: {}\n",
	    NULL, 0, s_d0_name, "example.com" },
	{ "U-label domain to A-label", BASE
	    "domains:\n  b\xc3\xbc" "cher.test: {}\n",
	    NULL, 0, s_d0_name, "xn--bcher-kva.test" },
	{ "domains sorted", BASE "domains:\n  z.test: {}\n  a.test: {}\n",
	    NULL, 0, s_d1_name, "z.test" },
	{ "domain zone from rotation", BASE
	    "rotation: { dns: { zone: example.com } }\n"
	    "domains:\n  mail.example.com: {}\n",
	    NULL, 0, s_d0_zone, "example.com" },
	{ "delegated _domainkey zone", BASE
	    "domains:\n  example.com: { zone: _domainkey.example.com }\n",
	    NULL, 0, s_d0_zone, "_domainkey.example.com" },
	{ "zone at a parent", BASE
	    "domains:\n  mail.example.com: { zone: example.com }\n",
	    NULL, 0, s_d0_zone, "example.com" },
	{ "zone defaults to the domain", BASE "domains:\n  example.com: {}\n",
	    NULL, 0, s_d0_zone, "example.com" },
	{ "rfc2136 backend", BASE "rotation:\n  dns:\n    backend: rfc2136\n"
	    "    server: 127.0.0.1:53\n"
	    "    authoritative: [127.0.0.1:5353, \"[::1]:5354\"]\n"
	    "    tsig: { name: signet, algorithm: hmac-sha512, "
	    "secret_file: /t }\n",
	    g_backend, CONFIG_DNS_RFC2136, NULL, NULL },
	{ "TSIG algorithm", BASE "rotation:\n  dns:\n    backend: rfc2136\n"
	    "    server: 127.0.0.1:53\n"
	    "    tsig: { name: signet, algorithm: hmac-sha512, "
	    "secret_file: /t }\n",
	    g_tsig_alg, CONFIG_TSIG_HMAC_SHA512, NULL, NULL },
	{ "authoritative servers", BASE "rotation:\n  dns:\n"
	    "    authoritative: [127.0.0.1:5353, \"[::1]:5354\"]\n",
	    g_nauth, 2, NULL, NULL },
	{ "authoritative IPv6 port", BASE "rotation:\n  dns:\n"
	    "    authoritative: [127.0.0.1:5353, \"[::1]:5354\"]\n",
	    g_auth1_port, 5354, NULL, NULL },
	{ "tenant rate", BASE "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [A.Test.], "
	    "rate: { messages: 100, window: 10m } }\n",
	    g_t0_rate, 100, s_t0_dom0, "a.test" },
	{ "tenant rate window", BASE "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [a.test], "
	    "rate: { messages: 100, window: 10m } }\n",
	    g_t0_window, 600, NULL, NULL },
	{ "tenant unsigned allow", BASE "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [a.test], "
	    "unsigned: allow }\n",
	    g_t0_unsigned, CONFIG_UNSIGNED_ALLOW, NULL, NULL },
	{ "tenant null sender", BASE "domains:\n  a.test: {}\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], domains: [a.test], "
	    "allow_null_sender: true }\n",
	    g_t0_null, 1, NULL, NULL },
	{ "tenant owning parent and wildcard", BASE
	    "domains:\n  a.test: { subdomains: true }\ntenants:\n"
	    "  - { name: a, networks: [10.0.0.0/8], "
	    "domains: [\"*.a.test\", a.test] }\n",
	    NULL, 0, s_t0_dom0, "a.test" },
};

static void
test_good(void)
{
	const struct config	*cfg;
	struct buf		*errs;
	size_t			 i;

	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case	*c = &good_cases[i];

		cfg = load(c->yaml, &errs);
		if (!T_OK(cfg != NULL, "loads: %s", c->name)) {
			t_diag_bytes("errors", buf_data(errs), buf_len(errs));
			buf_free(errs);
			continue;
		}
		if (c->get != NULL)
			T_EQ_INT(c->get(cfg), c->want, c->name);
		if (c->sget != NULL)
			T_EQ_STR(c->sget(cfg), c->swant, c->name);
		config_free(cfg);
		buf_free(errs);
	}
}

/* ------------------------------------------------------------------ */

/* hostile-inputs.md "Proposed defaults" and DESIGN.md, as written there. */
GET(d_rcpt, c->limits.max_recipients)
GET(d_per_ip, c->limits.max_connections_per_ip)
GET(d_rate, c->limits.connection_rate)
GET(d_line, c->limits.command_line_max)
GET(d_authline, c->limits.auth_line_max)
GET(d_hsize, c->limits.header_size_max)
GET(d_hfield, c->limits.header_field_max)
GET(d_hfields, c->limits.header_fields_max)
GET(d_received, c->limits.max_received)
GET(d_overload, c->limits.overload_timeout_ms)
GET(d_minrate, c->limits.min_data_rate)
GET(d_soft, c->limits.soft_error_limit)
GET(d_hard, c->limits.hard_error_limit)
GET(d_junk, c->limits.junk_command_limit)
GET(d_authfail, c->limits.auth_failures)
GET(d_up_connect, c->upstream.connect_timeout_ms)
GET(d_up_greet, c->upstream.greeting_timeout_ms)
GET(d_up_cmd, c->upstream.command_timeout_ms)
GET(d_up_noop, c->upstream.noop_interval_ms)
GET(d_up_verify, c->upstream.verify)
GET(d_transit, c->rotation.max_transit_s)
GET(d_reload, c->rotation.reload_bound_s)
GET(d_self_check, c->rotation.self_check_s)
GET(d_skew_below_fudge, c->rotation.skew_s < 300)
GET(d_strategy, c->rotation.strategy)
GET(d_backend_none, c->rotation.backend)
GET(d_alg, c->signing.algorithm)
GET(d_bits, c->signing.bits)
GET(d_ntenants, c->ntenants)
GET(d_metrics, c->has_metrics)
GET(d_l0_auth, c->listeners[0].auth)
GET(d_l0_bare_lf, c->listeners[0].bare_lf)
GET(d_res_timeout, c->resolver.timeout_ms)

static const struct {
	const char	*name;
	getter		 get;
	long long	 want;
} defaults[] = {
	{ "message size 10 MiB", g_msgsize, 10LL * 1024 * 1024 },
	{ "resolver timeout 5 s", d_res_timeout, 5000 },
	{ "recipients 1000", d_rcpt, 1000 },
	{ "connections per IP 50", d_per_ip, 50 },
	{ "connection rate off", d_rate, 0 },
	{ "command line 2048", d_line, 2048 },
	{ "AUTH line 12288", d_authline, 12288 },
	{ "header section 1 MiB", d_hsize, 1024 * 1024 },
	{ "header field 100 KiB", d_hfield, 100 * 1024 },
	{ "header fields 1000", d_hfields, 1000 },
	{ "Received 50", d_received, 50 },
	{ "idle 300 s", g_idle, 300000 },
	{ "overload 10 s", d_overload, 10000 },
	{ "min data rate 500", d_minrate, 500 },
	{ "soft errors 10", d_soft, 10 },
	{ "hard errors 20", d_hard, 20 },
	{ "junk commands 100", d_junk, 100 },
	{ "error delay 1 s", g_errdelay, 1000 },
	{ "greeting delay 0", g_greet, 0 },
	{ "AUTH failures 3", d_authfail, 3 },
	{ "upstream connect 30 s", d_up_connect, 30000 },
	{ "upstream greeting 60 s", d_up_greet, 60000 },
	{ "upstream command 300 s", d_up_cmd, 300000 },
	{ "upstream final 300 s", g_up_final, 300000 },
	{ "upstream NOOP 120 s", d_up_noop, 120000 },
	{ "upstream STARTTLS opportunistic", g_up_tls,
	    CONFIG_TLS_OPPORTUNISTIC },
	{ "upstream verify", d_up_verify, 1 },
	{ "upstream connection cache on", g_up_cache, 1 },
	{ "spool memory 1 MiB", g_spoolmem, 1024 * 1024 },
	{ "expiration 5 d", g_expire, 5 * 86400 },
	{ "canonicalization relaxed/relaxed header", g_canon_h,
	    CONFIG_CANON_RELAXED },
	{ "canonicalization relaxed/relaxed body", g_canon_b,
	    CONFIG_CANON_RELAXED },
	{ "algorithm rsa", d_alg, CONFIG_ALG_RSA },
	{ "bits 2048", d_bits, 2048 },
	{ "max transit 5 d", d_transit, 5 * 86400 },
	{ "reload bound 60 s", d_reload, 60 },
	{ "DNS self-check off", d_self_check, 0 },
	{ "skew below the TSIG fudge", d_skew_below_fudge, 1 },
	{ "strategy dual-selector", d_strategy,
	    CONFIG_STRATEGY_DUAL_SELECTOR },
	{ "no DNS backend", d_backend_none, CONFIG_DNS_NONE },
	{ "workers auto", g_workers, 0 },
	{ "no tenants", d_ntenants, 0 },
	{ "no metrics", d_metrics, 0 },
	{ "listener auth off", d_l0_auth, CONFIG_AUTH_OFF },
	{ "listener bare LF reject", d_l0_bare_lf, CONFIG_BARE_LF_REJECT },
	{ "log level info", g_level, LOG_INFO },
};

static void
test_defaults(void)
{
	const struct config	*cfg;
	struct buf		*errs;
	size_t			 i;

	cfg = load(BASE, &errs);
	if (!T_OK(cfg != NULL, "minimal config loads")) {
		t_diag_bytes("errors", buf_data(errs), buf_len(errs));
		buf_free(errs);
		return;
	}
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		T_EQ_INT(defaults[i].get(cfg), defaults[i].want,
		    defaults[i].name);
	T_OK(cfg->user == NULL && cfg->tenants_dir == NULL,
	    "optional strings absent");
	for (i = 0; i < cfg->signing.nheaders; i++)
		if (strcmp(cfg->signing.headers[i], "from") == 0)
			break;
	T_OK(i < cfg->signing.nheaders, "default headers sign From");
	config_free(cfg);
	buf_free(errs);
}

/* ------------------------------------------------------------------ */

static void
test_example_and_demo(void)
{
	const struct config		*cfg;
	const struct config_tenant	*t;
	struct buf			*errs;
	struct sockaddr_in		 sin;
	char				 path[4096];
	const char			*root = getenv("SIGNET_ROOT");

	snprintf(path, sizeof(path), "%s/config/signet.yaml",
	    root != NULL ? root : ".");
	errs = buf_new(1 << 20);
	cfg = config_load(path, errs);
	if (!T_OK(cfg != NULL, "config/signet.yaml loads"))
		t_diag_bytes("errors", buf_data(errs), buf_len(errs));
	else {
		T_EQ_INT(cfg->nlisteners, 3, "example: three listeners");
		T_EQ_INT(cfg->ntenants, 2, "example: two tenants");
		t = config_domain_owner(cfg, "news.example.com");
		T_OK(t != NULL && strcmp(t->name, "app") == 0,
		    "example: app owns news.example.com");
		T_OK(cfg->has_metrics && cfg->metrics_listen.port == 9125,
		    "example: metrics on 9125");
	}
	config_free(cfg);
	buf_free(errs);

	errs = buf_new(1 << 20);
	cfg = config_default_demo(errs);
	if (!T_OK(cfg != NULL, "demo config loads")) {
		t_diag_bytes("errors", buf_data(errs), buf_len(errs));
		buf_free(errs);
		return;
	}
	T_EQ_STR(cfg->listeners[0].address.host, "127.0.0.1",
	    "demo: listens on 127.0.0.1");
	T_EQ_INT(cfg->listeners[0].address.port, 2525, "demo: port 2525");
	T_OK(cfg->upstream.is_file, "demo: file upstream");
	T_EQ_STR(cfg->upstream.file_dir, "./var/outbox", "demo: outbox");
	T_EQ_STR(cfg->keystore, "./var/keys", "demo: keystore");
	T_EQ_STR(cfg->spool, "./var/spool", "demo: spool");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	t = config_tenant_for_addr(cfg, (struct sockaddr *)&sin);
	T_OK(t != NULL && strcmp(t->name, "local") == 0,
	    "demo: 127.0.0.1 is tenant local");
	T_OK(config_domain_owner(cfg, "example.com") == t,
	    "demo: local owns example.com");
	config_free(cfg);
	buf_free(errs);
}

/* ------------------------------------------------------------------ */

#define FP_HEX \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const char lookup_yaml[] = BASE
	"domains:\n"
	"  tenant.test: { subdomains: true }\n"
	"  victim.test: {}\n"
	"  esp.test: {}\n"
	"  xn--bcher-kva.test: {}\n"
	"  sub.tenant.test: {}\n"
	"tenants:\n"
	"  - name: tenant\n"
	"    networks: [10.0.0.0/8, \"2001:db8::/32\"]\n"
	"    users: [{ name: alice, password: \"" PW "\" }]\n"
	"    domains: [tenant.test, \"*.tenant.test\"]\n"
	"  - name: victim\n"
	"    networks: [10.1.0.0/16, \"2001:db8:1::/48\"]\n"
	"    certificates: [\"sha256:" FP_HEX "\"]\n"
	"    domains: [victim.test]\n"
	"  - name: c\n"
	"    networks: [10.1.2.3/32, \"::1\"]\n"
	"    domains: [sub.tenant.test, \"b\xc3\xbc" "cher.test\"]\n";

static const struct {
	const char	*domain;
	const char	*owner;		/* NULL: nobody may sign */
} owners[] = {
	{ "tenant.test", "tenant" },
	{ "TENANT.Test.", "tenant" },
	{ "a.tenant.test", "tenant" },
	{ "victim.test.tenant.test", "tenant" },	/* really below */
	{ "tenant.test.victim.test", NULL },		/* TN-02 */
	{ "evil-tenant.test", NULL },			/* TN-02 */
	{ "eviltenant.test", NULL },
	{ "victim.test", "victim" },
	{ "VICTIM.TEST.", "victim" },
	{ "x.victim.test", NULL },	/* no wildcard claim */
	{ "victim.test..", NULL },
	{ ".victim.test", NULL },
	{ "victim..test", NULL },
	{ "victim.test ", NULL },
	{ "", NULL },
	{ ".", NULL },
	{ "test", NULL },
	{ "sub.tenant.test", "c" },	/* exact claim beats the wildcard */
	{ "SUB.tenant.test.", "c" },
	{ "x.sub.tenant.test", "tenant" },
	{ "b\xc3\xbc" "cher.test", "c" },
	{ "xn--bcher-kva.test", "c" },
	{ "B\xc3\x9c" "CHER.test", "c" },	/* UTS 46 maps case */
	{ "esp.test", NULL },
};

static const struct {
	const char	*domain;
	const char	*signing;	/* domains: entry, NULL none */
} signing_domains[] = {
	{ "tenant.test", "tenant.test" },
	{ "deep.a.tenant.test", "tenant.test" },
	{ "Tenant.Test.", "tenant.test" },
	{ "sub.tenant.test", "sub.tenant.test" },
	{ "x.sub.tenant.test", NULL },	/* sub.tenant.test: no subdomains */
	{ "victim.test", "victim.test" },
	{ "x.victim.test", NULL },
	{ "evil-tenant.test", NULL },
	{ "b\xc3\xbc" "cher.test", "xn--bcher-kva.test" },
};

static const struct {
	const char	*addr;
	const char	*tenant;
} addrs[] = {
	{ "10.9.9.9", "tenant" },
	{ "10.1.9.9", "victim" },		/* /16 beats /8 */
	{ "10.1.2.3", "c" },			/* /32 beats /16 */
	{ "10.1.2.4", "victim" },
	{ "11.0.0.1", NULL },
	{ "127.0.0.1", NULL },
	{ "::ffff:10.1.2.3", "c" },		/* dual-stack socket */
	{ "::ffff:10.2.0.1", "tenant" },
	{ "::1", "c" },
	{ "::2", NULL },
	{ "2001:db8:1::5", "victim" },
	{ "2001:db8:2::1", "tenant" },
	{ "2001:db8:ffff:ffff::1", "tenant" },
	{ "2001:db9::", NULL },
};

static const char *
tname(const struct config_tenant *t)
{
	return t != NULL ? t->name : "(none)";
}

static void
test_lookups(void)
{
	const struct config		*cfg;
	const struct config_tenant	*t;
	const struct config_domain	*d;
	const struct config_user	*u;
	struct sockaddr_storage		 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;
	struct buf			*errs;
	uint8_t				 fp[CONFIG_CERT_FP_LEN];
	char				 name[128];
	size_t				 i;

	cfg = load(lookup_yaml, &errs);
	if (!T_OK(cfg != NULL, "lookup config loads")) {
		t_diag_bytes("errors", buf_data(errs), buf_len(errs));
		buf_free(errs);
		return;
	}
	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		t = config_domain_owner(cfg, owners[i].domain);
		snprintf(name, sizeof(name), "owner of \"%s\"",
		    owners[i].domain);
		T_EQ_STR(tname(t), owners[i].owner != NULL ? owners[i].owner :
		    "(none)", name);
	}
	for (i = 0; i < sizeof(signing_domains) / sizeof(signing_domains[0]);
	    i++) {
		d = config_domain(cfg, signing_domains[i].domain);
		snprintf(name, sizeof(name), "signing domain of \"%s\"",
		    signing_domains[i].domain);
		T_EQ_STR(d != NULL ? d->name : "(none)",
		    signing_domains[i].signing != NULL ?
		    signing_domains[i].signing : "(none)", name);
	}
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		memset(&ss, 0, sizeof(ss));
		if (inet_pton(AF_INET, addrs[i].addr, &sin->sin_addr) == 1)
			sin->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, addrs[i].addr,
		    &sin6->sin6_addr) == 1)
			sin6->sin6_family = AF_INET6;
		t = config_tenant_for_addr(cfg, (struct sockaddr *)&ss);
		snprintf(name, sizeof(name), "tenant of %s", addrs[i].addr);
		T_EQ_STR(tname(t), addrs[i].tenant != NULL ? addrs[i].tenant :
		    "(none)", name);
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	T_OK(config_tenant_for_addr(cfg, (struct sockaddr *)&ss) == NULL,
	    "no tenant for an AF_UNIX peer");

	t = config_tenant_for_user(cfg, "alice", &u);
	T_OK(t != NULL && strcmp(t->name, "tenant") == 0 && u != NULL &&
	    strcmp(u->name, "alice") == 0 && strcmp(u->password, PW) == 0,
	    "user alice -> tenant, with her password string");
	T_OK(config_tenant_for_user(cfg, "ALICE", &u) == NULL && u == NULL,
	    "user names are case-sensitive");
	T_OK(config_tenant_for_user(cfg, "bob", NULL) == NULL,
	    "unknown user");
	for (i = 0; i < sizeof(fp); i++)
		fp[i] = (uint8_t)i;
	t = config_tenant_for_cert(cfg, fp);
	T_EQ_STR(tname(t), "victim", "certificate -> victim");
	fp[31] ^= 1;
	T_OK(config_tenant_for_cert(cfg, fp) == NULL, "unknown certificate");
	T_EQ_STR(tname(config_tenant_by_name(cfg, "c")), "c", "tenant by name");
	T_OK(config_tenant_by_name(cfg, "C") == NULL, "tenant names exact");
	d = config_domain(cfg, "tenant.test");
	T_OK(d != NULL && d->owner != NULL &&
	    strcmp(d->owner->name, "tenant") == 0, "domain records its owner");
	d = config_domain(cfg, "esp.test");
	T_OK(d != NULL && d->owner == NULL, "unowned domain has no owner");
	T_OK(cfg->tenants[1].ncertificates == 1 &&
	    cfg->tenants[1].certificates[0][31] == 0x1f,
	    "certificate bytes stored");
	config_free(cfg);
	buf_free(errs);
}

static const struct {
	const char	*in;
	const char	*out;	/* NULL: invalid */
} norms[] = {
	{ "Example.COM", "example.com" },
	{ "example.com.", "example.com" },
	{ "example.com..", NULL },
	{ "b\xc3\xbc" "cher.de", "xn--bcher-kva.de" },
	{ "a_b.example", "a_b.example" },
	{ "a b.example", NULL },
	{ "-a.example", NULL },
	{ "a-.example", NULL },
	{ "", NULL },
	{ "\xff\xfe.test", NULL },
};

static void
test_normalize(void)
{
	char	out[CONFIG_DOMAIN_MAX + 1], name[96], big[300];
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(norms) / sizeof(norms[0]); i++) {
		rc = config_domain_normalize(norms[i].in, strlen(norms[i].in),
		    out);
		snprintf(name, sizeof(name), "normalize \"%s\"", norms[i].in);
		if (norms[i].out == NULL)
			T_EQ_INT(rc, -1, name);
		else
			T_OK(rc == 0 && strcmp(out, norms[i].out) == 0, "%s",
			    name);
	}
	rc = config_domain_normalize("a.b\0c", 5, out);
	T_EQ_INT(rc, -1, "normalize refuses NUL");
	/* 63-octet labels: 4 of them make 255 octets, over RFC 1035's 253. */
	memset(big, 'a', sizeof(big));
	for (i = 63; i < 255; i += 64)
		big[i] = '.';
	rc = config_domain_normalize(big, 255, out);
	T_EQ_INT(rc, -1, "normalize refuses 255 octets");
	rc = config_domain_normalize(big, 253, out);
	T_EQ_INT(rc, 0, "normalize accepts 253 octets");
}

/* ------------------------------------------------------------------ */

static void
test_tenants_dir(void)
{
	const struct config	*cfg;
	struct buf		*errs;
	char			 dir[256], path[512], yaml[1024];

	snprintf(dir, sizeof(dir), "%s/tenants.d", tmpdir);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/20-b.yaml", dir);
	write_file(path, "name: b\nnetworks: [10.2.0.0/16]\n"
	    "domains: [b.test]\n");
	snprintf(path, sizeof(path), "%s/10-a.yaml", dir);
	write_file(path, "name: a\nusers: [{ name: a, password: \"" PW
	    "\" }]\ndomains: [a.test]\n");
	snprintf(path, sizeof(path), "%s/.30-hidden.yaml", dir);
	write_file(path, "this is not: [yaml\n");
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_file(path, "not a tenant\n");
	snprintf(yaml, sizeof(yaml), BASE
	    "domains:\n  a.test: {}\n  b.test: {}\n  c.test: {}\n"
	    "tenants:\n  - { name: c, networks: [10.3.0.0/16], "
	    "domains: [c.test] }\ntenants_dir: %s\n"
	    "metrics: { listen: \"127.0.0.1:9125\" }\nworkers: 2\n"
	    "log: { level: debug }\nuser: signet\n", dir);
	cfg = load(yaml, &errs);
	if (T_OK(cfg != NULL, "tenants_dir loads")) {
		T_EQ_INT(cfg->ntenants, 3, "tenants_dir: inline + two files");
		T_EQ_STR(cfg->tenants[1].name, "a", "tenants_dir: name order");
		T_EQ_STR(cfg->tenants[2].name, "b", "tenants_dir: then b");
		snprintf(path, sizeof(path), "%s/10-a.yaml", dir);
		T_EQ_STR(cfg->tenants[1].source, path,
		    "tenants_dir: source recorded");
		T_EQ_STR(tname(config_domain_owner(cfg, "b.test")), "b",
		    "tenants_dir: file tenant owns its domain");
		T_OK(cfg->has_metrics && cfg->workers == 2 &&
		    cfg->log_level == LOG_DEBUG && cfg->user != NULL,
		    "tenants_dir: sections after it still parse");
	} else
		t_diag_bytes("errors", buf_data(errs), buf_len(errs));
	config_free(cfg);
	buf_free(errs);

	/* An error in a tenant file names that file. */
	snprintf(path, sizeof(path), "%s/40-bad.yaml", dir);
	write_file(path, "name: bad\nnetworks: [10.4.0.0/16]\n"
	    "domains: [c.test]\n");
	cfg = load(yaml, &errs);
	T_OK(cfg == NULL, "tenants_dir: conflicting file refused");
	snprintf(path, sizeof(path), "%s/40-bad.yaml:3:11: domains: c.test "
	    "already belongs to tenant 'c'", dir);
	if (!T_OK(strstr(errtext(errs), path) != NULL,
	    "tenants_dir: error names the tenant file, line and column"))
		t_diag_bytes("errors", buf_data(errs), buf_len(errs));
	config_free(cfg);
	buf_free(errs);
	snprintf(path, sizeof(path), "%s/40-bad.yaml", dir);
	unlink(path);
}

static void
test_error_cap(void)
{
	const struct config	*cfg;
	struct buf		*errs;
	char			 yaml[4096];
	size_t			 len, i, lines = 0;
	const char		*s;

	len = (size_t)snprintf(yaml, sizeof(yaml), "%s", BASE);
	for (i = 0; i < 30; i++)
		len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
		    "bogus%zu: 1\n", i);
	cfg = load(yaml, &errs);
	T_OK(cfg == NULL, "30 unknown keys refused");
	for (s = errtext(errs); *s != '\0'; s++)
		if (*s == '\n')
			lines++;
	T_EQ_INT(lines, CONFIG_ERRORS_MAX + 1, "20 errors, then one more line");
	T_OK(strstr(errtext(errs), ":25:1: too many errors, stopping") != NULL,
	    "the last line says it stopped");
	config_free(cfg);
	buf_free(errs);
}

/* The duplicate (found first) is reported after the earlier line. */
static void
test_error_order(void)
{
	const struct config	*cfg;
	struct buf		*errs;
	char			 want[512];

	cfg = load(BASE "limits: { max_message_size: 5G }\nkeystore: /x\n",
	    &errs);
	snprintf(want, sizeof(want),
	    "%s/t.yaml:5:29: max_message_size: 5G out of range (1K..1G)\n"
	    "%s/t.yaml:6:1: duplicate key 'keystore'\n", tmpdir, tmpdir);
	T_OK(cfg == NULL, "two errors refused");
	T_EQ_STR(errtext(errs), want, "errors sorted by line and column");
	config_free(cfg);
	buf_free(errs);
}

static void
test_mem_and_check(void)
{
	static const char	 binary[] = "listen: \"\xff\xfe\"\n\0\0{[";
	const struct config	*cfg;
	struct buf		*errs;
	FILE			*out, *err;
	char			 path[256], text[512];
	size_t			 n;
	int			 rc;

	errs = buf_new(1 << 16);
	cfg = config_load_mem(BASE, strlen(BASE), "mem.yaml", errs);
	T_OK(cfg != NULL && strcmp(cfg->path, "mem.yaml") == 0,
	    "config_load_mem loads and names the source");
	config_free(cfg);
	cfg = config_load_mem(binary, sizeof(binary) - 1, "bin.yaml", errs);
	T_OK(cfg == NULL && strstr(errtext(errs), "bin.yaml:") != NULL,
	    "binary input refused with a located error");
	config_free(cfg);
	buf_free(errs);

	errs = buf_new(1 << 16);
	T_OK(config_load("/nonexistent/signet.yaml", errs) == NULL &&
	    strstr(errtext(errs), "/nonexistent/signet.yaml:1:1: No such "
	    "file") != NULL, "missing file reported");
	buf_free(errs);
	errs = buf_new(1 << 16);
	T_OK(config_load(tmpdir, errs) == NULL &&
	    strstr(errtext(errs), tmpdir) != NULL,
	    "a directory is not a config file");
	buf_free(errs);

	snprintf(path, sizeof(path), "%s/ok.yaml", tmpdir);
	write_file(path, BASE);
	out = tmpfile();
	err = tmpfile();
	rc = config_check(path, out, err);
	T_EQ_INT(rc, 0, "config_check ok");
	rewind(out);
	n = fread(text, 1, sizeof(text) - 1, out);
	text[n] = '\0';
	snprintf(path, sizeof(path), "%s/ok.yaml: ok\n", tmpdir);
	T_EQ_STR(text, path, "config_check prints FILE: ok");
	fclose(out);
	fclose(err);

	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	write_file(path, BASE "bogus: 1\n");
	out = tmpfile();
	err = tmpfile();
	rc = config_check(path, out, err);
	T_EQ_INT(rc, -1, "config_check fails");
	rewind(err);
	n = fread(text, 1, sizeof(text) - 1, err);
	text[n] = '\0';
	snprintf(path, sizeof(path), "%s/bad.yaml:5:1: unknown key 'bogus'\n",
	    tmpdir);
	T_EQ_STR(text, path, "config_check prints the error line");
	T_EQ_INT(ftell(out), 0, "nothing on stdout when failing");
	fclose(out);
	fclose(err);
}

static void
remove_tree(void)
{
	char	cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_bad();
	test_good();
	test_defaults();
	test_example_and_demo();
	test_lookups();
	test_normalize();
	test_tenants_dir();
	test_error_cap();
	test_error_order();
	test_mem_and_check();
	remove_tree();
	return t_done();
}
