# SignetFakeDNS — answer Mail::DKIM's key lookups from a file of
# "name TXT-value" lines instead of DNS, for mail_dkim_verify.pl and
# mail_dkim_arc_verify.pl.
#
# Mail::DKIM asks Mail::DKIM::DNS::query, which calls ->send(name, type)
# on the resolver given to Mail::DKIM::DNS::resolver(); this resolver
# answers from the file and says NXDOMAIN for any other name, so no
# packet leaves the machine.
package SignetFakeDNS;

use strict;
use warnings;

use Mail::DKIM::DNS;
use Net::DNS;

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

# Read DNS-FILE and make it Mail::DKIM's resolver.
sub install {
	my ($dnsfile) = @_;
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
	Mail::DKIM::DNS::resolver(SignetFakeDNS->new(\%records));
}

1;
