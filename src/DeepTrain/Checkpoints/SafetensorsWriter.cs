using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DeepTrain.Checkpoints;

/// <summary>
/// Writes the safetensors format (https://github.com/huggingface/safetensors):
/// <code>
/// [u64 little-endian N][N bytes of UTF-8 JSON, space-padded so 8 + N is a multiple of 8][data]
/// JSON: {"__metadata__":{"k":"v"},"conv1.weight":{"dtype":"F32","shape":[16,3,3,3],"data_offsets":[0,1728]},...}
/// </code>
/// Offsets are relative to the data buffer. Tensors are packed in the order given, without gaps,
/// so offsets ascend. Metadata keys are written in ordinal order, so the same input gives the same bytes.
/// Use <see cref="Safetensors.Save"/> for files: it writes atomically.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes header and data to <paramref name="stream"/>.</summary>
    /// <exception cref="ArgumentException">A tensor is null, two tensors share a name, or a metadata key or value is null.</exception>
    /// <exception cref="IOException">The stream fails.</exception>
    public static void Write(Stream stream, IReadOnlyList<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteTo(stream, BuildHeader(tensors, metadata), tensors);
    }

    /// <summary>
    /// Validates the tensors and builds the header: the 8-byte length followed by the padded JSON.
    /// Everything that can be rejected is rejected here, before a file is touched.
    /// </summary>
    internal static byte[] BuildHeader(IReadOnlyList<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i] ?? throw new ArgumentException($"tensor #{i} is null", nameof(tensors));
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor name '{t.Name}' appears more than once (again at #{i})", nameof(tensors));
        }

        var json = new ArrayBufferWriter<byte>();
        // Relaxed escaping: names such as "a+b" stay readable; quotes and control characters are still escaped.
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(Safetensors.MetadataKey);
                foreach (var key in metadata.Keys.Order(StringComparer.Ordinal))
                {
                    ArgumentNullException.ThrowIfNull(key, nameof(metadata));
                    string value = metadata[key] ?? throw new ArgumentException($"metadata value for '{key}' is null", nameof(metadata));
                    w.WriteString(key, value);
                }
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.Name());
                w.WriteStartArray("shape");
                foreach (int d in t.Shape.Dims) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset += t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }

        // Pad with spaces so the data starts 8-byte aligned (8 + N ≡ 0 mod 8), as safetensors does.
        int n = (json.WrittenCount + 7) & ~7;
        var header = new byte[8 + n];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)n);
        json.WrittenSpan.CopyTo(header.AsSpan(8));
        header.AsSpan(8 + json.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>Writes a header from <see cref="BuildHeader"/> and then each tensor's bytes.</summary>
    internal static void WriteTo(Stream stream, byte[] header, IReadOnlyList<NamedArray> tensors)
    {
        stream.Write(header);
        foreach (var t in tensors) stream.Write(t.Data.Span);
    }
}
