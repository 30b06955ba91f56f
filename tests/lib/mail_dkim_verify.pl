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
# Mail::DKIM asks Mail::DKIM::DNS::query, which calls ->send(name, type)
# on the resolver given to Mail::DKIM::DNS::resolver(); the fake resolver
# below answers from the file and says NXDOMAIN for any other name, so no
# packet leaves the machine.
use strict;
use warnings;

use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;
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
