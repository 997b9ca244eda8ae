//! IPVS's `mh` scheduler (net/netfilter/ipvs/ip_vs_mh.c), as a 64-bit kernel computes it:
//! a 4093-slot Maglev table filled from each real server's offset and skip, both
//! `hsiphash` (SipHash-1-3 on 64-bit) of `port + address` under fixed keys; a client lands in
//! slot `hsiphash(source [+ source port with mh-port]) % 4093`.

const TABLE_SIZE: usize = 4093;
const HASH1: u64 = 2_654_435_761;
const HASH2: u64 = 2_654_446_892;

/// `hsiphash(&v, 4, key)` on 64-bit kernels: SipHash-1-3 with k0 = k1 = `key`, low 32 bits.
fn hsiphash(v: u32, key: u64) -> u32 {
    let (mut v0, mut v1, mut v2, mut v3) = (
        0x736f_6d65_7073_6575u64 ^ key,
        0x646f_7261_6e64_6f6du64 ^ key,
        0x6c79_6765_6e65_7261u64 ^ key,
        0x7465_6462_7974_6573u64 ^ key,
    );
    let b = (4u64 << 56) | v as u64;
    let round = |v0: &mut u64, v1: &mut u64, v2: &mut u64, v3: &mut u64| {
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13);
        *v1 ^= *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16);
        *v3 ^= *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21);
        *v3 ^= *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17);
        *v1 ^= *v2;
        *v2 = v2.rotate_left(32);
    };
    v3 ^= b;
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    v0 ^= b;
    v2 ^= 0xff;
    for _ in 0..3 {
        round(&mut v0, &mut v1, &mut v2, &mut v3);
    }
    (v0 ^ v1 ^ v2 ^ v3) as u32
}

/// `ip_vs_mh_hashkey`: the address folded to 32 bits (IPv6 words XORed), plus the port.
fn hashkey(addr: std::net::IpAddr, port: u16, key: u64) -> u32 {
    let fold = match addr {
        std::net::IpAddr::V4(a) => u32::from(a),
        std::net::IpAddr::V6(a) => a.octets().chunks(4).fold(0, |acc, c| {
            acc ^ u32::from_be_bytes([c[0], c[1], c[2], c[3]])
        }),
    };
    hsiphash((port as u32).wrapping_add(fold), key)
}

/// The lookup table for real servers given in the order kube-proxy added them (weight 1
/// each); the kernel keeps its destination list newest first.
pub fn table(reals: &[(std::net::IpAddr, u16)]) -> Vec<usize> {
    let order: Vec<usize> = (0..reals.len()).rev().collect();
    let mut perm: Vec<usize> = Vec::new();
    let mut skip: Vec<usize> = Vec::new();
    for &i in &order {
        let (ip, port) = reals[i];
        perm.push(hashkey(ip, port, HASH1) as usize % TABLE_SIZE);
        skip.push(hashkey(ip, port, HASH2) as usize % (TABLE_SIZE - 1) + 1);
    }
    let mut lookup = vec![usize::MAX; TABLE_SIZE];
    let mut filled = 0;
    while filled < TABLE_SIZE && !order.is_empty() {
        for k in 0..order.len() {
            let mut c = perm[k];
            while lookup[c] != usize::MAX {
                perm[k] += skip[k];
                if perm[k] >= TABLE_SIZE {
                    perm[k] -= TABLE_SIZE;
                }
                c = perm[k];
            }
            lookup[c] = order[k];
            filled += 1;
            if filled == TABLE_SIZE {
                break;
            }
        }
    }
    lookup
}

/// The real server (index) a client lands on.
pub fn pick(table: &[usize], client: std::net::IpAddr, client_port: u16) -> usize {
    table[hashkey(client, client_port, HASH1) as usize % TABLE_SIZE]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from a SipHash-1-3 reference derived from the kernel's source (research notes);
    /// the 2-4 variant of the same code reproduces SipHash's published test vectors.
    #[test]
    fn hashes_match_the_kernels() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(hashkey(ip("10.0.0.1"), 80, HASH1), 0x439c_0cbe);
        assert_eq!(hashkey(ip("10.0.0.1"), 80, HASH2), 0x97b3_dc47);
        assert_eq!(hashkey(ip("10.0.0.2"), 80, HASH1), 0xa1cf_683b);
        assert_eq!(
            hashkey(ip("192.168.1.10"), 0, HASH1) as usize % TABLE_SIZE,
            3323
        );
    }

    #[test]
    fn every_slot_is_filled_evenly() {
        let reals: Vec<(std::net::IpAddr, u16)> = (1..=3)
            .map(|i| (format!("10.0.0.{i}").parse().unwrap(), 80))
            .collect();
        let t = table(&reals);
        assert!(t.iter().all(|&i| i < 3));
        for i in 0..3 {
            let n = t.iter().filter(|&&x| x == i).count();
            assert!((1363..=1365).contains(&n), "{n}");
        }
    }
}
