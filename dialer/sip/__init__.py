"""The dialer's SIP layer: an asyncio UAC toward a trunk or PBX, plus RTP media.

Modules
    message      SIP parsing/serialising (RFC 3261 section 7)
    auth         digest answers to 401/407, MD5 and SHA-256 (RFC 7616)
    sdp          offer/answer (RFC 3264): codecs by preference, DTMF, directions
    media        a peer's SDP -> numeric address (c= host resolved once), codec
    transport    what a transport is; the UDP socket (4 MiB receive buffer, malformed
                 input dropped); a refused send named with its cause
    tcp          SIP over TCP: connections on demand, a listener, Content-Length framing
    ua           transactions (timers A/B/E/F), the call/dialog state, route sets,
                 the bind vs advertised address and NAT detection
    session_timer  RFC 4028: what we ask for, the refresher, refresh and expiry
    outcomes     final status -> "answered" / "busy" / "no_answer" / ...
    rtp, g711    RTP packets, bridge relay with SSRC/seq/timestamp rewrite, G.711
    rtp_ports    RTP sockets on even ports of the configured range
    audio        prompts: abandon (generated default or a WAV), voicemail (shipped WAV)
    amd          energy/cadence answering-machine detection on the first seconds,
                 and the end of a machine's greeting (silence or beep)
    trunk        SipTrunk, the dialer.carrier.Carrier adapter over all of the above
    diagnostics  run_test_call() behind ``callcenter call test``

pyVoIP, the SIP/RTP library the design first named, is not a dependency: we
checked each of its pieces against these tests and kept none (the
measurements are in docs/sip-stack.md).
  * SIP (pyVoIP.SIP): its client has no ACK for non-2xx, no CANCEL, no 407,
    ignores Record-Route and reuses the INVITE branch for ACK/BYE; its parser
    is entangled with that client (and raises on the malformed input we must
    shrug off), so there is nothing separable worth keeping.
  * RTP (pyVoIP.RTP): RTPClient is thread-per-call and keeps every received
    packet in memory; RTPMessage parses only what RTPClient needs; its
    codec path encodes PCMA with the mu-law encoder. Our RtpPacket is forty
    lines and our G.711 tables are checked byte-for-byte against the
    reference coder over all 65536 inputs (tests/unit/sip).
"""
