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
# The fake resolver is the one of mail_dkim_verify.pl (written by infra):
# Mail::DKIM::DNS::query calls ->send(name, type) on the resolver given to
# Mail::DKIM::DNS::resolver(), which answers from the file and says
# NXDOMAIN for any other name, so no packet leaves the machine.
use strict;
use warnings;

use Mail::DKIM::ARC::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;

package FakeResolver;

sub new {
	my ($class, $records) = @_;
	return bless { records => $records, error => 'NOERROR' }, $class;
}

sub send {
	my ($self, $name, $type) = @_;
	$name = lc $name;
	$name =~ s/\.$//;
	my $packet = Net::DNS::Packet->new($name, $type, 'IN');
	my $value = $self->{records}{$name};
	if (!defined $value || uc $type ne 'TXT') {
		$packet->header->rcode(defined $value ? 'NOERROR' : 'NXDOMAIN');
		return $packet;
	}
	# A TXT RR holds strings of at most 255 octets (RFC 1035 3.3.14).
	my @strings = unpack('(a255)*', $value);
	@strings = ('') unless @strings;
	my $rr = Net::DNS::RR->new(name => $name, type => 'TXT',
	    txtdata => \@strings);
	$packet->push(answer => $rr);
	$packet->header->rcode('NOERROR');
	return $packet;
}

sub errorstring {
	return $_[0]->{error};
}

package main;

my $dnsfile = shift @ARGV or die "usage: $0 DNS-FILE < message\n";
my %records;
open(my $fh, '<', $dnsfile) or die "$dnsfile: $!\n";
while (my $line = <$fh>) {
	$line =~ s/\r?\n$//;
	next if $line =~ /^\s*(#|$)/;
	my ($name, $value) = split(/\s+/, $line, 2);
	$name = lc $name;
	$name =~ s/\.$//;
	$records{$name} = defined $value ? $value : '';
}
close($fh);

Mail::DKIM::DNS::resolver(FakeResolver->new(\%records));

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
