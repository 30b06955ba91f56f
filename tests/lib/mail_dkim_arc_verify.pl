#!/usr/bin/perl
# Validate the ARC chain of the message on stdin with Mail::DKIM's
# ARC verifier (Mail::DKIM::ARC::Verifier, Strict), taking keys from
# DNS-FILE (lines "name TXT-value") instead of DNS.
#
# Usage: mail_dkim_arc_verify.pl DNS-FILE < message
# Output: first line "chain<TAB>RESULT<TAB>DETAIL" (pass, fail, invalid,
# none), then one line per ARC signature:
#   PREFIX  i  d  s  RESULT  DETAIL
# where PREFIX is ARC-Seal or ARC-Message-Signature.
# Exit 0 when the message was read; the caller judges the results.
#
# Keys come from DNS-FILE through SignetFakeDNS.pm; no packet leaves
# the machine.
use strict;
use warnings;

use File::Basename qw(dirname);
use lib dirname(__FILE__);

use Mail::DKIM::ARC::Verifier;
use SignetFakeDNS;

my $dnsfile = shift @ARGV or die "usage: $0 DNS-FILE < message\n";
SignetFakeDNS::install($dnsfile);

binmode(STDIN);
my $msg = do { local $/; <STDIN> };
$msg =~ s/\r?\n/\r\n/g;

my $arc = Mail::DKIM::ARC::Verifier->new(Strict => 1);
$arc->PRINT($msg);
$arc->CLOSE();

sub clean {
	my $s = shift // '';
	$s =~ s/[\t\r\n]/ /g;
	return $s;
}

printf("chain\t%s\t%s\n", $arc->result // 'none',
    clean($arc->result_detail));
foreach my $sig ($arc->signatures) {
	printf("%s\t%s\t%s\t%s\t%s\t%s\n", $sig->prefix // '',
	    $sig->instance // '', $sig->domain // '', $sig->selector // '',
	    $sig->result // 'none', clean($sig->result_detail));
}
exit 0;
