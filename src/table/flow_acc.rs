//! flow_acc: what the flow builder keeps per flow while packets come ([`Acc`]: its directions'
//! counts and Zeek's model of the connection) until [`crate::table::flow_table`] makes rows.

use crate::decode::service::Service;
use crate::table::zeek_tcp::TcpConn;

/// One direction of a flow. Held for every flow until the table is made (500k flows in the
/// 10M-packet capture), so optional codes are stored with a "none" value rather than as
/// `Option`s (112 -> 88 bytes).
#[derive(Clone)]
pub(crate) struct Dir {
    /// Text codes; [`NONE32`] for none.
    pub(crate) src_ip: u32,
    pub(crate) dst_ip: u32,
    pub(crate) file: u32,
    /// For ICMP, the type and its counterpart type or code (see [`icmp_ports`]).
    pub(crate) src_port: Option<u16>,
    pub(crate) dst_port: Option<u16>,
    /// Enum codes and the IP version; [`NONE8`] for none.
    pub(crate) l4: u8,
    pub(crate) ip_version: u8,
    /// Application of the first packet with a payload and a recognised application.
    pub(crate) app_payload: u8,
    /// Application of the first packet.
    pub(crate) app_first: u8,
    pub(crate) t0: i64,
    pub(crate) t1: i64,
    pub(crate) f0: u32,
    pub(crate) f1: u32,
    /// Saturates (at 4G packets one way).
    pub(crate) packets: u32,
    pub(crate) bytes: u64,
    /// IP total lengths summed (Zeek's `ip_bytes`).
    pub(crate) ip_bytes: u64,
    pub(crate) payload: u64,
    pub(crate) syn: u32,
    pub(crate) synack: u32,
    pub(crate) rst: u32,
    pub(crate) fin: u32,
}

/// What Zeek's model of the connection needs beyond the packet counts.
pub(crate) enum Zeek {
    /// TCP: the whole connection model (boxed: most flows of a busy capture are not TCP).
    Tcp(Box<TcpConn>),
    /// UDP: whether the first packet's receiver was made the originator (by its port).
    Udp { flipped: bool },
    /// ICMP and the rest: the first packet's sender is the originator.
    Other,
}

/// A flow's directions in the order first seen (more than two only when flow ids collide). The
/// second is held inline: reached through a heap pointer, it cost reply packets a second cache
/// miss.
pub(crate) struct Acc {
    pub(crate) id: u64,
    pub(crate) first: Dir,
    pub(crate) second: Option<Dir>,
    /// Further directions: only when flow ids collide. Boxed: 8 bytes in every flow, not 24.
    #[allow(clippy::box_collection)]
    pub(crate) more: Option<Box<Vec<Dir>>>,
    pub(crate) ip_proto: u8,
    pub(crate) zeek: Zeek,
    /// Services confirmed on the flow in order ([`Service`] codes; [`NONE8`] ends the list).
    pub(crate) services: [u8; 4],
}

/// No text code is this large.
pub(crate) const NONE32: u32 = u32::MAX;
/// No enum code or IP version is this large.
pub(crate) const NONE8: u8 = u8::MAX;

impl Acc {
    /// Which direction was sent from `src` (0 the first seen, 1 the second, 2 + j further
    /// ones), if seen before.
    #[inline]
    pub(crate) fn find(&self, src: (u32, Option<u16>)) -> Option<usize> {
        let from = |d: &Dir| (d.src_ip, d.src_port) == src;
        if from(&self.first) {
            return Some(0);
        }
        match &self.second {
            Some(d) if from(d) => Some(1),
            Some(_) => self.more.as_ref()?.iter().position(from).map(|j| 2 + j),
            None => None,
        }
    }

    #[inline]
    pub(crate) fn at(&mut self, which: usize) -> Option<&mut Dir> {
        match which {
            0 => Some(&mut self.first),
            1 => self.second.as_mut(),
            j => self.more.as_mut()?.get_mut(j - 2),
        }
    }

    /// Add a direction not seen before; returns which it is.
    pub(crate) fn add_dir(&mut self, d: Dir) -> usize {
        if self.second.is_none() {
            self.second = Some(d);
            return 1;
        }
        let more = self.more.get_or_insert_with(Box::default);
        more.push(d);
        1 + more.len()
    }

    pub(crate) fn confirm(&mut self, s: Service) {
        let code = s as u8;
        for slot in &mut self.services {
            if *slot == code {
                return;
            }
            if *slot == NONE8 {
                *slot = code;
                return;
            }
        }
    }
}
