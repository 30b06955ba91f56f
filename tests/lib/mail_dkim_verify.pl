#!/usr/bin/perl
# Verify every DKIM signature of the message on stdin with Mail::DKIM,
# taking keys from DNS-FILE (lines "name TXT-value") instead of DNS.
#
# Usage: mail_dkim_verify.pl DNS-FILE < message
# Output: one line per signature, top down, tab-separated:
#   index  d  s  a  result  detail
# where result is Mail::DKIM's (pass, fail, invalid, temperror, none).
# Exit 0 when the message was read; the caller judges the results.
#
# Keys come from DNS-FILE through SignetFakeDNS.pm; no packet leaves
# the machine.
use strict;
use warnings;

use File::Basename qw(dirname);
use lib dirname(__FILE__);

use Mail::DKIM::Verifier;
use SignetFakeDNS;

my $dnsfile = shift @ARGV or die "usage: $0 DNS-FILE < message\n";
SignetFakeDNS::install($dnsfile);

binmode(STDIN);
my $msg = do { local $/; <STDIN> };
# Mail::DKIM wants CRLF line endings.
$msg =~ s/\r?\n/\r\n/g;

my $dkim = Mail::DKIM::Verifier->new();
$dkim->PRINT($msg);
$dkim->CLOSE();

my $i = 0;
foreach my $sig ($dkim->signatures) {
	next unless $sig->isa('Mail::DKIM::Signature');
	my $detail = $sig->result_detail // '';
	$detail =~ s/[\t\r\n]/ /g;
	printf("%d\t%s\t%s\t%s\t%s\t%s\n", $i++, $sig->domain // '',
	    $sig->selector // '', $sig->algorithm // '', $sig->result // 'none',
	    $detail);
}
exit 0;
