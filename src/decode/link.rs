//! Link layers: peel whatever carries the IP packet off a captured frame.

use etherparse::{
    EtherType, Ethernet2HeaderSlice, LinuxSllHeaderSlice, LinuxSllProtocolType,
    SingleVlanHeaderSlice,
};

use super::Skip;

/// The link layers picket decodes, named by their pcap LINKTYPE/DLT values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II, with any number of 802.1Q / 802.1ad tags.
    Ethernet,
    /// DLT_NULL and DLT_LOOP: a 4-byte address family in either byte order.
    Null,
    /// DLT_RAW and LINKTYPE_IPV4 / LINKTYPE_IPV6: the frame is the IP packet.
    Raw,
    /// DLT_LINUX_SLL: Linux cooked capture v1 (16-byte header).
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux cooked capture v2 (20-byte header).
    LinuxSll2,
}

impl LinkType {
    /// The name tcpdump gives it (`-L`).
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "EN10MB",
            LinkType::Null => "NULL",
            LinkType::Raw => "RAW",
            LinkType::LinuxSll => "LINUX_SLL",
            LinkType::LinuxSll2 => "LINUX_SLL2",
        }
    }

    /// Map a pcap data link type to what we decode, `None` if unsupported.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        match dlt {
            1 => Some(LinkType::Ethernet),
            0 | 108 => Some(LinkType::Null),
            // DLT_RAW is 12 on most systems and 14 on OpenBSD; files say 101.
            12 | 14 | 101 | 228 | 229 => Some(LinkType::Raw),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }
}

/// More stacked tags than this is hostile, not a network.
const MAX_VLAN_TAGS: usize = 8;

/// The IP packet inside `frame`, or why there is none.
#[inline]
pub fn ip_payload(link: LinkType, frame: &[u8]) -> Result<&[u8], Skip> {
    match link {
        LinkType::Ethernet => {
            let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| Skip::TruncatedLink)?;
            after_ethertype(eth.ether_type(), &frame[eth.slice().len()..])
        }
        LinkType::LinuxSll => {
            let sll = LinuxSllHeaderSlice::from_slice(frame).map_err(|_| Skip::TruncatedLink)?;
            match sll.protocol_type() {
                LinuxSllProtocolType::EtherType(t) => {
                    after_ethertype(t, &frame[sll.slice().len()..])
                }
                _ => Err(Skip::NotIp),
            }
        }
        LinkType::LinuxSll2 => {
            // etherparse has no SLL2: protocol type (2 bytes) leads a
            // fixed 20-byte header.
            if frame.len() < 20 {
                return Err(Skip::TruncatedLink);
            }
            let protocol = u16::from_be_bytes([frame[0], frame[1]]);
            after_ethertype(EtherType(protocol), &frame[20..])
        }
        LinkType::Null => {
            let af: [u8; 4] = frame
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(Skip::TruncatedLink)?;
            // The family is in the capturing host's byte order, which the
            // file does not record: accept either.
            let family = u32::from_le_bytes(af).min(u32::from_be_bytes(af));
            match family {
                // AF_INET everywhere; AF_INET6 on Linux, the BSDs and macOS.
                2 | 10 | 24 | 28 | 30 => Ok(&frame[4..]),
                _ => Err(Skip::NotIp),
            }
        }
        LinkType::Raw => Ok(frame),
    }
}

/// Follow an ethertype through 802.1Q / 802.1ad tags to an IP payload.
#[inline]
fn after_ethertype(mut ethertype: EtherType, mut payload: &[u8]) -> Result<&[u8], Skip> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ethertype {
            EtherType::IPV4 | EtherType::IPV6 => return Ok(payload),
            EtherType::VLAN_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME => {
                let tag =
                    SingleVlanHeaderSlice::from_slice(payload).map_err(|_| Skip::TruncatedLink)?;
                ethertype = tag.ether_type();
                payload = &payload[tag.slice().len()..];
            }
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::NotIp)
}
