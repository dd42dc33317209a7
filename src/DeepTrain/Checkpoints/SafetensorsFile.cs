using System.Buffers.Binary;
using System.Collections;
using System.Diagnostics.CodeAnalysis;
using DeepTrain.Tensors;

namespace DeepTrain.Checkpoints;

/// <summary>
/// A loaded, validated safetensors file held in memory: a dictionary from tensor name to
/// <see cref="SafetensorsTensorInfo"/>, typed getters for the data, the metadata, and
/// <see cref="Expect(string, SafetensorsDType, ReadOnlySpan{int})"/> to check a tensor against what a model needs.
/// Names enumerate in data (offset) order. Getters return copies, so the file object can be shared.
/// </summary>
public sealed class SafetensorsFile : IReadOnlyDictionary<string, SafetensorsTensorInfo>
{
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private readonly SafetensorsTensorInfo[] _ordered;
    private readonly byte[] _data;

    internal SafetensorsFile(string path, SafetensorsTensorInfo[] ordered, Dictionary<string, string> metadata, byte[] data)
    {
        Path = path;
        _ordered = ordered;
        _byName = ordered.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Metadata = metadata;
        _data = data;
    }

    /// <summary>The file, as the caller named it; every error message quotes it.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> entries; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in data order.</summary>
    public IReadOnlyList<string> Names => Array.ConvertAll(_ordered, t => t.Name);

    /// <summary>Number of tensors.</summary>
    public int Count => _ordered.Length;

    /// <summary>Tensor names in data order.</summary>
    public IEnumerable<string> Keys => Names;

    /// <summary>Tensor entries in data order.</summary>
    public IEnumerable<SafetensorsTensorInfo> Values => _ordered;

    /// <summary>The entry named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    public SafetensorsTensorInfo this[string name]
        => _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"checkpoint '{Path}' has no tensor '{name}'");

    /// <summary>Whether the file has a tensor named <paramref name="name"/>.</summary>
    public bool ContainsKey(string name) => _byName.ContainsKey(name);

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGetValue(string name, [MaybeNullWhen(false)] out SafetensorsTensorInfo value) => _byName.TryGetValue(name, out value);

    /// <summary>Enumerates (name, entry) pairs in data order.</summary>
    public IEnumerator<KeyValuePair<string, SafetensorsTensorInfo>> GetEnumerator()
    {
        foreach (var t in _ordered) yield return new(t.Name, t);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Returns the entry for <paramref name="name"/> after checking its dtype and shape, e.g. before
    /// copying it into a layer's parameter.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing, or its dtype or shape differs; the message gives expected and found.</exception>
    public SafetensorsTensorInfo Expect(string name, SafetensorsDType dtype, params ReadOnlySpan<int> shape)
    {
        var t = Find(name);
        bool dtypeOk = t.DType == dtype, shapeOk = t.Shape.Dims.SequenceEqual(shape);
        if (dtypeOk && shapeOk) return t;
        var expected = new Shape(shape);
        string what = (dtypeOk, shapeOk) switch
        {
            (false, true) => $"has dtype {t.DType.Name()}, expected {dtype.Name()}",
            (true, false) => $"has shape {t.Shape}, expected {expected}",
            _ => $"has dtype {t.DType.Name()} and shape {t.Shape}, expected {dtype.Name()} and {expected}",
        };
        throw new CheckpointMismatchException(Path, name, $"checkpoint '{Path}': tensor '{name}' {what}");
    }

    /// <summary>
    /// <see cref="Expect(string, SafetensorsDType, ReadOnlySpan{int})"/> for a DeepTrain element type.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing, or its dtype or shape differs.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined member.</exception>
    public SafetensorsTensorInfo Expect(string name, DType dtype, params ReadOnlySpan<int> shape)
        => Expect(name, dtype.ToSafetensors(), shape);

    /// <summary>The raw little-endian bytes of a tensor; a view into this object's memory.</summary>
    /// <exception cref="CheckpointMismatchException">The file has no such tensor.</exception>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var t = Find(name);
        return _data.AsSpan((int)t.DataBegin, (int)t.ByteLength);
    }

    /// <summary>Copies an F32 tensor's elements.</summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing or is not F32.</exception>
    public float[] GetFloat32(string name) => LittleEndian.FromBytes<float>(Typed(name, SafetensorsDType.F32));

    /// <summary>Copies an F64 tensor's elements.</summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing or is not F64.</exception>
    public double[] GetFloat64(string name) => LittleEndian.FromBytes<double>(Typed(name, SafetensorsDType.F64));

    /// <summary>Copies an F16 tensor's elements.</summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing or is not F16.</exception>
    public Half[] GetFloat16(string name) => LittleEndian.FromBytes<Half>(Typed(name, SafetensorsDType.F16));

    /// <summary>Copies an I32 tensor's elements.</summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing or is not I32.</exception>
    public int[] GetInt32(string name) => LittleEndian.FromBytes<int>(Typed(name, SafetensorsDType.I32));

    /// <summary>Copies an I64 tensor's elements.</summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing or is not I64.</exception>
    public long[] GetInt64(string name) => LittleEndian.FromBytes<long>(Typed(name, SafetensorsDType.I64));

    /// <summary>Copies a U8 tensor's elements.</summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing or is not U8.</exception>
    public byte[] GetUInt8(string name) => Typed(name, SafetensorsDType.U8).ToArray();

    /// <summary>
    /// An F32, F16 or BF16 tensor widened to fp32. Widening is exact: every F16 and BF16 value is an fp32 value.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The tensor is missing or has another dtype.</exception>
    public float[] ReadAsFloat32(string name)
    {
        var t = Find(name);
        var bytes = GetBytes(name);
        switch (t.DType)
        {
            case SafetensorsDType.F32:
                return LittleEndian.FromBytes<float>(bytes);
            case SafetensorsDType.F16:
            {
                var r = new float[t.Elements];
                for (int i = 0; i < r.Length; i++) r[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                return r;
            }
            case SafetensorsDType.BF16:
            {
                // bf16 is the top half of an fp32: shift its 16 bits up.
                var r = new float[t.Elements];
                for (int i = 0; i < r.Length; i++) r[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) << 16);
                return r;
            }
            default:
                throw new CheckpointMismatchException(Path, name, $"checkpoint '{Path}': tensor '{name}' has dtype {t.DType.Name()}, expected F32, F16 or BF16");
        }
    }

    private SafetensorsTensorInfo Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out var t) ? t
            : throw new CheckpointMismatchException(Path, name, $"checkpoint '{Path}' has no tensor '{name}'");
    }

    private ReadOnlySpan<byte> Typed(string name, SafetensorsDType dtype)
    {
        var t = Find(name);
        if (t.DType != dtype)
            throw new CheckpointMismatchException(Path, name, $"checkpoint '{Path}': tensor '{name}' has dtype {t.DType.Name()}, expected {dtype.Name()}");
        return GetBytes(name);
    }
}
