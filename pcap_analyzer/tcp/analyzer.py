"""TcpAnalyzer: the streaming TCP stage (one `update` per chunk, then `finalize`).

Definitions follow Wireshark's tcp.analysis.* (see `tcp/expert.py`). Deliberate additions, reported
beside tshark's figures rather than instead of them:
- `RTO_RETRANSMISSION`: tshark's plain "retransmission" (neither fast nor spurious): a segment
  resent after a timeout. Its `tcp.analysis.rto` (time since the eldest unacked segment) summed per
  stream is the "time spent in RTO retransmissions".
- `SYN_RETRANSMISSION`: a SYN or SYN/ACK sent again by the same side of one tcp.stream.
- ACK RTT is tshark's own sample set (`tcp.analysis.ack_rtt`: only ACKs whose number equals the end
  of an unacked segment, timed from the oldest such copy); no other estimator replaces it.

Memory stays bounded whatever the capture: per-stream state is a few hundred bytes per stream
(`tcp/state.py`); ACK RTT / RTO samples are kept as (stream int32, value float32) pairs up to
`max_samples` and then thinned by stride doubling (every 2nd kept, then every 4th ...), which keeps
the quantiles unbiased; flagged packets are capped per stream and globally; detail series see `tcp/series.py`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.decode.codes import BAD_L4_HEADER
from pcap_analyzer.decode.packets import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, PacketTable
from pcap_analyzer.flows.model import FlowAssignment, FlowTable
from pcap_analyzer.tcp.expert import analyze_chunk
from pcap_analyzer.tcp.model import TcpChunkResult
from pcap_analyzer.tcp.report import TcpReport
from pcap_analyzer.tcp.samples import FlaggedBuffer, SampleBuffer
from pcap_analyzer.tcp.series import SeriesStore
from pcap_analyzer.tcp.state import D_FIN, D_PACKETS, D_RST, D_SYN, D_SYNACK, TcpState


class TcpAnalyzer:
    """Per-connection TCP analysis with Wireshark's definitions, fed chunk by chunk.

    Args:
        flagged_per_stream: flagged packets kept per connection for the report.
        flagged_total: flagged packets kept over the whole capture.
        max_samples: ACK RTT (and RTO) samples kept before stride-doubling thinning.
        series_slots: connections whose seq/ack/window series are kept for drill-down charts.
        series_points: points kept per series (downsampled by stride doubling).

    Example:
        >>> tcp = TcpAnalyzer()
        >>> for packets, flows in chunks:  # doctest: +SKIP
        ...     result = tcp.update(packets, flows)
        >>> report = tcp.finalize()  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        flagged_per_stream: int = 200,
        flagged_total: int = 100_000,
        max_samples: int = 1_000_000,
        series_slots: int = 32,
        series_points: int = 1024,
    ) -> None:
        self.state = TcpState()
        self.flagged_per_stream = flagged_per_stream
        self.rtt = SampleBuffer(max_samples)
        self.rto = SampleBuffer(max_samples)
        self.series = SeriesStore(series_slots, series_points)
        self._flagged = FlaggedBuffer(flagged_total)
        self.first_ts_ns: int | None = None
        self.packets = 0

    def update(self, packets: PacketTable, flows: FlowAssignment) -> TcpChunkResult:
        """Analyse one chunk (capture order); returns the per-packet tcp.analysis results."""
        n = len(packets)
        if len(flows.tcp_stream) != n:
            raise ValueError(f"FlowAssignment has {len(flows.tcp_stream)} rows for {n} packets")
        res = TcpChunkResult(
            analysis=np.zeros(n, np.uint32),
            ack_rtt_ns=np.full(n, -1, np.int64),
            rto_ns=np.full(n, -1, np.int64),
            window=np.full(n, -1, np.int64),
            rel_seq=np.zeros(n, np.uint32),
        )
        if n == 0:
            return res
        if self.first_ts_ns is None:
            self.first_ts_ns = int(packets.ts_ns[0])
        stream = flows.tcp_stream
        is_tcp = stream >= 0
        n_tcp = int(np.count_nonzero(is_tcp))
        if n_tcp == 0:
            return res
        self.packets += n_tcp
        st = self.state
        st.ensure(int(stream.max()), n_tcp)
        stream = self._count_malformed(packets, flows, stream)
        keep = np.zeros(n, np.bool_)
        i = 0
        while True:
            i = analyze_chunk(
                i, stream, flows.direction, packets.tcp_flags, packets.seq, packets.ack, packets.win,
                packets.payload_len, packets.wscale, packets.ts_ns, packets.frame,
                st.seqs, st.wide, st.dirs, st.small, st.streams, st.marks, st.counts, st.count_rows,
                st.seg, st.links, st.free, self.flagged_per_stream,
                res.analysis, res.ack_rtt_ns, res.rto_ns, res.window, res.rel_seq, keep,
            )
            if i >= n:
                break
            st.grow_counts()
        self._collect(packets, flows, res, keep)
        return res

    def _count_malformed(self, packets: PacketTable, flows: FlowAssignment,
                         stream: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Malformed TCP headers (a bad data offset, a datagram too short for the header) stay out of the
        sequence analysis, as tshark leaves them; their packets and SYN/FIN/RST flags still count for
        their connection. Returns the streams to analyse (-1 for those rows)."""
        bad = np.flatnonzero((packets.undecoded == BAD_L4_HEADER) & (stream >= 0))
        if bad.size == 0:
            return stream
        flags = packets.tcp_flags[bad]
        at = (stream[bad], flows.direction[bad].astype(np.int64))
        syn = (flags & TCP_SYN) != 0
        for field, hit in ((D_PACKETS, np.ones(bad.size, np.bool_)), (D_SYN, syn),
                           (D_SYNACK, syn & ((flags & TCP_ACK) != 0)), (D_FIN, (flags & TCP_FIN) != 0),
                           (D_RST, (flags & TCP_RST) != 0)):
            np.add.at(self.state.dirs[:, :, field], (at[0][hit], at[1][hit]), 1)
        out = stream.copy()
        out[bad] = -1
        return out

    def _collect(self, packets: PacketTable, flows: FlowAssignment, res: TcpChunkResult,
                 keep: npt.NDArray[np.bool_]) -> None:
        t0 = self.first_ts_ns or 0
        has_rtt = np.flatnonzero(res.ack_rtt_ns >= 0)
        if has_rtt.size:
            self.rtt.add(flows.tcp_stream[has_rtt], res.ack_rtt_ns[has_rtt] / 1e9)
        has_rto = np.flatnonzero(res.rto_ns >= 0)
        if has_rto.size:
            self.rto.add(flows.tcp_stream[has_rto], res.rto_ns[has_rto] / 1e9)
        kept = np.flatnonzero(keep)[: self._flagged.room]
        if kept.size:
            self._flagged.add(flows.tcp_stream[kept], packets.frame[kept], packets.ts_ns[kept],
                              flows.direction[kept], res.analysis[kept])
        self.series.update(packets, flows, res, self.state, t0)

    def finalize(self, flow_table: FlowTable | None = None) -> TcpReport:
        """Freeze the state into a `TcpReport` (call once, after the last chunk)."""
        n = self.state.n_streams
        self.state.frozen = True
        return TcpReport(  # views, not copies: the state is not updated after this call
            dirs=self.state.dirs[:n],
            small=self.state.small[:n],
            wide=self.state.wide[:n],
            streams=self.state.streams[:n],
            counts=self.state.flag_counts(),
            rtt=self.rtt.freeze(),
            rto=self.rto.freeze(),
            flagged=self._flagged.freeze(),
            series=self.series,
            first_ts_ns=self.first_ts_ns or 0,
            packets=self.packets,
            flow_table=flow_table,
        )
