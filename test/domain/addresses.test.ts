import { describe, expect, it } from 'vitest';
import { isForbiddenAddress, isForbiddenHost } from '../../domain/shared/addresses.ts';

describe('which addresses a tenant may make the platform call', () => {
  it('refuses loopback, private, link-local, unspecified, CGNAT, multicast and reserved IPv4', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '224.0.0.1', '255.255.255.255'])
      expect(isForbiddenAddress(a), a).toBe(true);
  });

  it('refuses the IPv6 equivalents, and IPv4-mapped, NAT64 and 6to4 forms of a forbidden IPv4', () => {
    for (const a of ['::', '::1', '[::1]', '0:0:0:0:0:0:0:1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '2002:7f00:1::'])
      expect(isForbiddenAddress(a), a).toBe(true);
  });

  it('lets public addresses through, and says when the text is no address at all', () => {
    for (const a of ['8.8.8.8', '93.184.216.34', '172.32.0.1', '172.15.255.255', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:808:808::']) expect(isForbiddenAddress(a), a).toBe(false);
    for (const a of ['gateway.example.com', '1.2.3', '256.1.1.1', '1::2::3', '1:2:3:4:5:6:7:8:9']) expect(isForbiddenAddress(a), a).toBeUndefined();
  });

  it("refuses a URL's host that is such a literal however the URL spells it, or localhost; a name is left to the lookup", () => {
    for (const url of ['http://localhost:1', 'http://LOCALHOST./', 'http://gw.localhost', 'http://0x7f.1/', 'http://2130706433/', 'http://[::ffff:127.0.0.1]/', 'http://[::]/', 'http://0/'])
      expect(isForbiddenHost(new URL(url).hostname), url).toBe(true);
    for (const url of ['https://gateway.example.com', 'http://8.8.8.8:18789', 'http://localhost.example.com']) expect(isForbiddenHost(new URL(url).hostname), url).toBe(false);
  });
});
