"""Export: one file for a time range of a stream, remuxed from its recorded segments (issue 15).

Never transcoded: packets are copied from the segments (local files, or ranged reads of the
object store for files already uploaded and deleted locally) into one MPEG-TS or fragmented
MP4, written to a bounded queue the HTTP response drains as it is made -- a two-hour range is
never held in memory or on disk. The only place outside the recorder that touches PyAV.

Modules: ``segments`` (what a range is made of), ``objects`` (a seekable reader over an object
in the store), ``remux`` (the packet copy with continuous timestamps), ``stream`` (the bridge
from the muxing thread to an async byte stream).
"""
