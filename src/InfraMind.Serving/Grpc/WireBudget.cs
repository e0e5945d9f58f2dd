using System.Buffers;
using System.Globalization;
using Google.Protobuf.Reflection;

namespace InfraMind.Serving.Grpc;

/// <summary>
/// How much a protobuf message may make of itself once parsed: <see cref="MaxObjects"/> objects (each message, string,
/// byte string and unknown field), <see cref="MaxValues"/> numbers in repeated fields.
/// </summary>
public readonly record struct WireLimits(int MaxObjects, long MaxValues);

/// <summary>
/// Counts on a protobuf message's wire bytes, before it is parsed, what the parse would make of them, and refuses a
/// message over its <see cref="WireLimits"/>. A byte cap alone does not bound what a stranger's message costs:
/// Google.Protobuf makes an object of every message, string and unknown field it reads, and an empty message takes two
/// bytes on the wire and a few hundred in memory (1 MiB of empty input tensors parses into ~130 MiB), a packed number
/// one byte and eight. Written by hand because Google.Protobuf has no such limit (only a recursion depth, 100) and
/// parses before anything could count; the walk follows the message type's descriptor, so it knows which fields are
/// messages, strings or packed numbers without parsing them. Bytes that are not protobuf stop the count without a
/// verdict: the parser that follows says what is wrong with them, in its own words.
/// </summary>
public static class WireBudget
{
    /// <summary>How deep messages may nest inside one another (the V2 protocol's messages nest at most four deep).</summary>
    public const int MaxDepth = 16;

    /// <summary>Why <paramref name="message"/> is over <paramref name="limits"/> as a <paramref name="type"/>; null within them.</summary>
    public static string? Exceeds(ReadOnlySequence<byte> message, MessageDescriptor type, WireLimits limits)
    {
        if (message.IsSingleSegment) return Exceeds(message.FirstSpan, type, limits);
        // Bounded by the message size limit of whoever hands it over (the parse that follows reads as much).
        var length = checked((int)message.Length);
        var copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            message.CopyTo(copy);
            return Exceeds(copy.AsSpan(0, length), type, limits);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <inheritdoc cref="Exceeds(ReadOnlySequence{byte}, MessageDescriptor, WireLimits)"/>
    public static string? Exceeds(ReadOnlySpan<byte> message, MessageDescriptor type, WireLimits limits)
    {
        ArgumentNullException.ThrowIfNull(type);
        var count = new Count { Limits = limits };
        Walk(message, type, ref count, 1);
        return count.Problem;
    }

    private struct Count
    {
        public WireLimits Limits;
        public long Objects;
        public long Values;
        public string? Problem;

        public void Object()
        {
            if (++Objects > Limits.MaxObjects && Problem is null)
                Problem = $"it holds more than {N(Limits.MaxObjects)} objects (messages, strings, byte strings and unknown fields), the most taken";
        }

        public void Numbers(long count)
        {
            Values += count;
            if (Values > Limits.MaxValues && Problem is null)
                Problem = $"it holds more than {N(Limits.MaxValues)} numbers in repeated fields, the most taken";
        }
    }

    private static void Walk(ReadOnlySpan<byte> data, MessageDescriptor? type, ref Count count, int depth)
    {
        while (!data.IsEmpty && count.Problem is null)
        {
            // The parser reads a tag, and a length, as 32 bits and drops whatever a longer varint holds above them: so
            // must the count, or a tag or length with high bits set would end it while the parse reads on.
            if (!TryVarint(ref data, out var varint)) return;
            var tag = unchecked((uint)varint);
            if (tag >> 3 == 0) return;
            var wire = (int)(tag & 7);
            var field = type?.FindFieldByNumber((int)(tag >> 3));
            // A known field in another wire type than its own is kept as an unknown field, as the parser does.
            if (field is not null && !Takes(field, wire)) field = null;
            switch (wire)
            {
                case 0:
                    if (!TryVarint(ref data, out _)) return;
                    Scalar(field, ref count);
                    break;
                case 1:
                    if (data.Length < 8) return;
                    data = data[8..];
                    Scalar(field, ref count);
                    break;
                case 5:
                    if (data.Length < 4) return;
                    data = data[4..];
                    Scalar(field, ref count);
                    break;
                case 2:
                    if (!TryVarint(ref data, out varint)) return;
                    var length = unchecked((int)(uint)varint);
                    // A negative length: a packed field of numbers is read as empty (and the parse goes on), anything
                    // else is refused by the parser.
                    if (length < 0 && Packed(field)) break;
                    if (length < 0 || length > data.Length) return;
                    var payload = data[..length];
                    data = data[length..];
                    Delimited(payload, field, ref count, depth);
                    break;
                case 3:
                    // An unknown group is parsed into a tree of its own: proto3 has none, and no message of these services either.
                    count.Problem ??= "it holds a group (wire type 3), which proto3 messages do not have";
                    return;
                default:
                    return; // an end-group without its start, or wire type 6 or 7: the parser refuses it
            }
        }
    }

    /// <summary>Whether the parser reads <paramref name="wire"/> into <paramref name="field"/> (a repeated number comes packed or not).</summary>
    private static bool Takes(FieldDescriptor field, int wire)
    {
        var own = field.FieldType switch
        {
            FieldType.String or FieldType.Bytes or FieldType.Message => 2,
            FieldType.Fixed64 or FieldType.SFixed64 or FieldType.Double => 1,
            FieldType.Fixed32 or FieldType.SFixed32 or FieldType.Float => 5,
            FieldType.Group => 3,
            _ => 0,
        };
        return wire == own || (wire == 2 && field.IsRepeated && own is 0 or 1 or 5);
    }

    /// <summary>Whether <paramref name="field"/>, taken in wire type 2, is a packed field of numbers.</summary>
    private static bool Packed(FieldDescriptor? field) =>
        field is not null && field.FieldType is not (FieldType.String or FieldType.Bytes or FieldType.Message);

    private static void Scalar(FieldDescriptor? field, ref Count count)
    {
        if (field is null) count.Object(); // an unknown field is kept, one object each
        else if (field.IsRepeated) count.Numbers(1);
    }

    private static void Delimited(ReadOnlySpan<byte> payload, FieldDescriptor? field, ref Count count, int depth)
    {
        switch (field?.FieldType)
        {
            case null or FieldType.String or FieldType.Bytes:
                count.Object(); // an unknown field's bytes, a string or a byte string
                break;
            case FieldType.Message:
                count.Object();
                if (depth >= MaxDepth)
                {
                    count.Problem ??= $"its messages nest more than {MaxDepth} deep";
                    return;
                }

                Walk(payload, field.MessageType, ref count, depth + 1);
                break;
            case FieldType.Fixed32 or FieldType.SFixed32 or FieldType.Float:
                count.Numbers(payload.Length / 4);
                break;
            case FieldType.Fixed64 or FieldType.SFixed64 or FieldType.Double:
                count.Numbers(payload.Length / 8);
                break;
            default:
                // Packed varints: one number ends at each byte without the continuation bit.
                var numbers = 0;
                foreach (var b in payload)
                    if (b < 0x80) numbers++;
                count.Numbers(numbers);
                break;
        }
    }

    private static bool TryVarint(ref ReadOnlySpan<byte> data, out ulong value)
    {
        value = 0;
        for (var i = 0; i < 10 && i < data.Length; i++)
        {
            value |= (ulong)(data[i] & 0x7F) << (7 * i);
            if (data[i] < 0x80)
            {
                data = data[(i + 1)..];
                return true;
            }
        }

        return false;
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
