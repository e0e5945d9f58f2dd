using System.Text;
using Docker.DotNet;

namespace InfraMind.Containers.Run;

/// <summary>Reads an engine output stream into stdout/stderr, keeping only the last bytes of each.</summary>
internal sealed class MultiplexedOutput(int limitBytes)
{
    private readonly TailBuffer _stdout = new(limitBytes);
    private readonly TailBuffer _stderr = new(limitBytes);
    private readonly TailBuffer _combined = new(limitBytes);
    private readonly List<byte> _stderrHead = [];
    private const int HeadBytes = 128;

    public string Stdout => _stdout.ToString();

    public string Stderr => _stderr.ToString();

    public string Combined => _combined.ToString();

    /// <summary>The first bytes of stderr, kept even when the tail buffer has moved past them.</summary>
    public string StderrHead
    {
        get
        {
            lock (_stderrHead)
            {
                return Encoding.UTF8.GetString(_stderrHead.ToArray());
            }
        }
    }

    public async Task ReadToEndAsync(MultiplexedStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                return;
            }

            var chunk = buffer.AsSpan(0, read.Count);
            if (read.Target == MultiplexedStream.TargetStream.StandardError)
            {
                lock (_stderrHead)
                {
                    var take = Math.Min(HeadBytes - _stderrHead.Count, chunk.Length);
                    if (take > 0)
                    {
                        _stderrHead.AddRange(chunk[..take]);
                    }
                }
            }

            (read.Target == MultiplexedStream.TargetStream.StandardError ? _stderr : _stdout).Append(chunk);
            _combined.Append(chunk);
        }
    }

    private sealed class TailBuffer(int limit)
    {
        private readonly Lock _lock = new();
        private byte[] _data = [];

        public void Append(ReadOnlySpan<byte> chunk)
        {
            lock (_lock)
            {
                var total = _data.Length + chunk.Length;
                var keep = Math.Min(total, limit);
                var next = new byte[keep];
                var fromOld = Math.Max(0, keep - chunk.Length);
                _data.AsSpan(_data.Length - fromOld, fromOld).CopyTo(next);
                chunk[Math.Max(0, chunk.Length - keep)..].CopyTo(next.AsSpan(fromOld));
                _data = next;
            }
        }

        public override string ToString()
        {
            lock (_lock)
            {
                return Encoding.UTF8.GetString(_data);
            }
        }
    }
}
