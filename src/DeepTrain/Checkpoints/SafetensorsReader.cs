using System.Buffers.Binary;
using System.Text.Json;
using DeepTrain.Tensors;

namespace DeepTrain.Checkpoints;

/// <summary>
/// Parses and validates a safetensors file (the reader beside <see cref="SafetensorsWriter"/>): the 8-byte header length,
/// the JSON header (names, dtypes, shapes, offsets, <c>__metadata__</c>), and a data section the tensors tile exactly.
/// Every refusal is a <see cref="CheckpointFormatException"/> naming the file, the byte offset and what was expected.
/// </summary>
internal static class SafetensorsReader
{
    /// <summary>Reads <paramref name="path"/> whole and validates it.</summary>
    public static SafetensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        long length = fs.Length;
        if (length < 8)
            throw new CheckpointFormatException(path, 0, $"the file is {length} bytes, shorter than the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        fs.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)(length - 8))
            throw new CheckpointFormatException(path, 0, $"the header length is {n} bytes, but only {length - 8} bytes follow the 8-byte length field");
        if (n > MaxHeader)
            throw new CheckpointFormatException(path, 0, $"the header length is {n} bytes, more than safetensors' limit of {MaxHeader}");
        var header = new byte[n];
        fs.ReadExactly(header);
        long dataLength = length - 8 - (long)n;
        if (dataLength > Array.MaxLength)
            throw new NotSupportedException($"checkpoint '{path}': {dataLength} bytes of tensor data do not fit in one array; files over 2 GiB are not supported");
        var data = new byte[dataLength];
        fs.ReadExactly(data);
        var (entries, metadata) = ParseHeader(path, header);
        var ordered = CheckLayout(path, entries, dataStart: 8 + (long)n, dataLength);
        return new SafetensorsFile(path, ordered, metadata, data);
    }

    private const long MaxHeader = Safetensors.MaxHeaderBytes;

    /// <summary>A header entry before the layout check; <see cref="At"/> is the file offset of its key.</summary>
    private readonly record struct Entry(string Name, SafetensorsDType DType, Shape Shape, ulong Begin, ulong End, long At);

    private static (List<Entry>, Dictionary<string, string>) ParseHeader(string path, byte[] header)
    {
        if (header.Length == 0 || header[0] != (byte)'{')
            throw new CheckpointFormatException(path, 8, "expected the JSON header to start with '{'");
        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            var r = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
            r.Read(); // the '{' checked above
            var keys = new HashSet<string>(StringComparer.Ordinal);
            while (Next(ref r) != JsonTokenType.EndObject)
            {
                long at = 8 + r.TokenStartIndex;
                string key = r.GetString()!;
                if (!keys.Add(key)) throw new CheckpointFormatException(path, at, $"key '{key}' appears twice in the header; expected unique tensor names");
                if (key == Safetensors.MetadataKey) ReadMetadata(path, ref r, metadata);
                else entries.Add(ReadEntry(path, ref r, key, at));
            }
            if (r.Read())
                throw new CheckpointFormatException(path, 8 + r.TokenStartIndex, "expected only spaces after the header's JSON object");
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, 8 + FileOffset(header, e), $"the header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader reports invalid UTF-8 inside strings this way.
            throw new CheckpointFormatException(path, 8, $"the header is not valid UTF-8 JSON: {e.Message}", e);
        }
        return (entries, metadata);
    }

    private static JsonTokenType Next(ref Utf8JsonReader r)
    {
        if (!r.Read()) throw new JsonException("the header ends inside the JSON object");
        return r.TokenType;
    }

    private static void ReadMetadata(string path, ref Utf8JsonReader r, Dictionary<string, string> metadata)
    {
        long at = 8 + r.TokenStartIndex;
        var t = Next(ref r);
        if (t == JsonTokenType.Null) return;
        if (t != JsonTokenType.StartObject)
            throw new CheckpointFormatException(path, 8 + r.TokenStartIndex, $"'{Safetensors.MetadataKey}' is {t}; expected an object of strings");
        while (Next(ref r) != JsonTokenType.EndObject)
        {
            string key = r.GetString()!;
            if (Next(ref r) != JsonTokenType.String)
                throw new CheckpointFormatException(path, 8 + r.TokenStartIndex, $"metadata value for '{key}' is {r.TokenType}; expected a string");
            if (!metadata.TryAdd(key, r.GetString()!))
                throw new CheckpointFormatException(path, at, $"metadata key '{key}' appears twice");
        }
    }

    private static Entry ReadEntry(string path, ref Utf8JsonReader r, string name, long at)
    {
        if (Next(ref r) != JsonTokenType.StartObject)
            throw new CheckpointFormatException(path, 8 + r.TokenStartIndex, $"tensor '{name}' is {r.TokenType}; expected an object with dtype, shape and data_offsets");
        SafetensorsDType? dtype = null;
        int[]? shape = null;
        ulong[]? offsets = null;
        while (Next(ref r) != JsonTokenType.EndObject)
        {
            string field = r.GetString()!;
            Next(ref r);
            long vat = 8 + r.TokenStartIndex;
            switch (field)
            {
                case "dtype":
                    string? s = r.TokenType == JsonTokenType.String ? r.GetString() : null;
                    if (s is null || !SafetensorsDTypeInfo.TryParse(s, out var d))
                        throw new CheckpointFormatException(path, vat, $"tensor '{name}' has unknown dtype {(s is null ? r.TokenType.ToString() : $"'{s}'")}; expected one of F64, F32, F16, BF16, I64, I32, U8");
                    dtype = d;
                    break;
                case "shape":
                    var dims = ReadUInts(path, ref r, name, field);
                    shape = new int[dims.Count];
                    for (int i = 0; i < shape.Length; i++)
                        shape[i] = dims[i] <= int.MaxValue ? (int)dims[i]
                            : throw new CheckpointFormatException(path, vat, $"tensor '{name}' has dimension {dims[i]}; expected at most {int.MaxValue}");
                    break;
                case "data_offsets":
                    var o = ReadUInts(path, ref r, name, field);
                    if (o.Count != 2)
                        throw new CheckpointFormatException(path, vat, $"tensor '{name}' has {o.Count} data_offsets; expected [begin, end]");
                    offsets = [o[0], o[1]];
                    break;
                default:
                    r.Skip(); // unknown fields are ignored, as safetensors does
                    break;
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw new CheckpointFormatException(path, at, $"tensor '{name}' has no '{(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}'; expected dtype, shape and data_offsets");
        return new Entry(name, dtype.Value, new Shape(shape), offsets[0], offsets[1], at);
    }

    private static List<ulong> ReadUInts(string path, ref Utf8JsonReader r, string name, string field)
    {
        if (r.TokenType != JsonTokenType.StartArray)
            throw new CheckpointFormatException(path, 8 + r.TokenStartIndex, $"tensor '{name}' has {field} of type {r.TokenType}; expected an array of non-negative integers");
        var list = new List<ulong>();
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            if (r.TokenType != JsonTokenType.Number || !r.TryGetUInt64(out ulong v))
                throw new CheckpointFormatException(path, 8 + r.TokenStartIndex, $"tensor '{name}' has a {field} element that is not a non-negative integer");
            list.Add(v);
        }
        return list;
    }

    /// <summary>
    /// Checks that the tensors tile the data buffer exactly, as safetensors' own validation does:
    /// sorted by offset, each begins where the previous ended, spans elements × dtype size bytes,
    /// and the last ends at the end of the file.
    /// </summary>
    private static SafetensorsTensorInfo[] CheckLayout(string path, List<Entry> entries, long dataStart, long dataLength)
    {
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToArray(); // stable
        var result = new SafetensorsTensorInfo[sorted.Length];
        ulong cursor = 0;
        string? previous = null;
        for (int i = 0; i < sorted.Length; i++)
        {
            var e = sorted[i];
            string offsets = $"data_offsets [{e.Begin}, {e.End}]";
            if (e.End < e.Begin)
                throw new CheckpointFormatException(path, e.At, $"tensor '{e.Name}' has {offsets}; expected end ≥ begin");
            ulong bytes;
            try
            {
                bytes = (ulong)e.DType.Size();
                foreach (int d in e.Shape.Dims) bytes = checked(bytes * (ulong)d);
            }
            catch (OverflowException)
            {
                throw new CheckpointFormatException(path, e.At, $"tensor '{e.Name}' has shape {e.Shape}, too large to address");
            }
            if (e.End - e.Begin != bytes)
                throw new CheckpointFormatException(path, e.At, $"tensor '{e.Name}' ({e.DType.Name()}, shape {e.Shape}) needs {bytes} bytes, but its {offsets} span {e.End - e.Begin}");
            if (e.End > (ulong)dataLength)
                throw new CheckpointFormatException(path, e.At, $"tensor '{e.Name}' has {offsets}, outside the data, which is {dataLength} bytes (file bytes {dataStart} to {dataStart + dataLength})");
            if (e.Begin < cursor)
                throw new CheckpointFormatException(path, dataStart + (long)e.Begin, $"tensor '{e.Name}' ({offsets}) overlaps tensor '{previous}', which ends at data offset {cursor}; expected it to begin at {cursor}");
            if (e.Begin > cursor)
                throw new CheckpointFormatException(path, dataStart + (long)cursor, $"{e.Begin - cursor} unused bytes before tensor '{e.Name}' ({offsets}); expected it to begin at data offset {cursor}{(previous is null ? "" : $", where '{previous}' ends")}, as tensors are packed without gaps");
            result[i] = new SafetensorsTensorInfo(e.Name, e.DType, e.Shape, (long)e.Begin, (long)e.End);
            cursor = e.End;
            previous = e.Name;
        }
        if (cursor != (ulong)dataLength)
            throw new CheckpointFormatException(path, dataStart + (long)cursor, $"{(ulong)dataLength - cursor} bytes follow the last tensor; expected the file to end at byte {dataStart + (long)cursor}");
        return result;
    }

    /// <summary>Turns a <see cref="JsonException"/>'s line and byte-in-line into an offset within the header.</summary>
    private static long FileOffset(byte[] header, JsonException e)
    {
        long line = e.LineNumber ?? 0, col = e.BytePositionInLine ?? 0, start = 0;
        for (int i = 0; i < header.Length && line > 0; i++)
            if (header[i] == (byte)'\n') { line--; start = i + 1; }
        return start + col;
    }
}
