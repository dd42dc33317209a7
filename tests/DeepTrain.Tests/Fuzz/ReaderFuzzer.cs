using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using DeepTrain.Checkpoints;
using DeepTrain.Data;

namespace DeepTrain.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of the file readers (safetensors, IDX raw and gzip, CIFAR-10 binary).
/// Each iteration derives its own <see cref="Random"/> from (seed, iteration), so any finding is
/// replayed by its iteration number alone. A read may succeed (the mutation left a valid file) or fail
/// with the format's own exception; anything else — another exception type, an allocation larger than
/// the file can justify, or a read that takes seconds — is a finding.
/// </summary>
internal sealed class ReaderFuzzer(string folder, int seed)
{
    /// <summary>What the readers did with the mutations of one format.</summary>
    public sealed class Counts(string format)
    {
        public string Format { get; } = format;
        public int Tried, CleanErrors, Reads, Other, OverAllocated, Slow;
        public List<string> Findings { get; } = [];

        public override string ToString() =>
            $"{Format}: {Tried} mutations, {CleanErrors} clean errors, {Reads} successful reads, {Other} other exceptions, {OverAllocated} over-allocations, {Slow} slow reads";

        /// <summary>Keeps the first few findings of each kind (the text before the first ':' after the iteration).</summary>
        public void Add(string kind, string finding)
        {
            if (_kinds.TryGetValue(kind, out int n) && n >= 5) return;
            _kinds[kind] = n + 1;
            Findings.Add(finding);
        }

        private readonly Dictionary<string, int> _kinds = [];
    }

    /// <summary>Allocations a read may make beyond a multiple of the file's size (stream buffers, small objects).</summary>
    private const long FixedAllowance = 1 << 20;
    /// <summary>Per byte of file: the data itself, a gzip file's expansion of these small seeds, and copies.</summary>
    private const long PerFileByte = 64;

    private static readonly long[] Extremes =
        [0, 1, -1, 2, 255, 256, 65535, 65536, int.MaxValue, int.MinValue, int.MaxValue - 1, uint.MaxValue, 1L << 31, 0x7FFFFFC7, 1 << 20, 1 << 24];

    // ------------------------------------------------------------------ formats

    /// <summary>IDX images and labels; <paramref name="gzip"/> writes them compressed.</summary>
    public Counts Idx(int iterations, bool gzip)
    {
        var c = new Counts(gzip ? "idx (gzip)" : "idx (raw)");
        byte[] images = DeepTrain.Tests.Data.DataBytes.IdxImages(12, 7, 5);
        byte[] labels = DeepTrain.Tests.Data.DataBytes.IdxLabels(DeepTrain.Tests.Data.DataBytes.Labels(12));
        string imagesPath = Path.Combine(folder, "images.idx"), labelsPath = Path.Combine(folder, "labels.idx");
        for (int i = 0; i < iterations; i++)
        {
            var rng = new Random(Derive(seed, i, gzip ? 2 : 1));
            bool mutateImages = rng.Next(2) == 0;
            byte[] target = mutateImages ? images : labels;
            byte[] mutated;
            int[] fields = mutateImages ? [0, 4, 8, 12] : [0, 4];
            if (i < Truncations(target.Length).Length)
                mutated = Truncate(target, i, gzip);   // first, every truncation of the header and a few of the body
            else if (gzip && rng.Next(3) == 0)
                mutated = Mutate(Gzip(target), rng, fields: []);   // corrupt the compressed stream itself
            else
            {
                mutated = Mutate(target, rng, fields);
                if (gzip) mutated = Gzip(mutated);
            }
            File.WriteAllBytes(imagesPath, mutateImages ? mutated : (gzip ? Gzip(images) : images));
            File.WriteAllBytes(labelsPath, mutateImages ? (gzip ? Gzip(labels) : labels) : mutated);
            long fileBytes = new FileInfo(imagesPath).Length + new FileInfo(labelsPath).Length;
            Try(c, i, fileBytes, () => IdxReader.Load(imagesPath, labelsPath, "fuzz"), e => e is DataFormatException d && d.FilePath == (mutateImages ? imagesPath : labelsPath));
        }
        return c;
    }

    /// <summary>One CIFAR-10 batch file of three records.</summary>
    public Counts Cifar(int iterations)
    {
        var c = new Counts("cifar-10");
        byte[] seedFile = DeepTrain.Tests.Data.DataBytes.Cifar(3);
        string path = Path.Combine(folder, "data_batch_1.bin");
        for (int i = 0; i < iterations; i++)
        {
            var rng = new Random(Derive(seed, i, 3));
            byte[] m = i < Truncations(seedFile.Length).Length ? Truncate(seedFile, i, gzip: false) : Mutate(seedFile, rng, fields: [0, 3073, 2 * 3073]);
            File.WriteAllBytes(path, m);
            Try(c, i, m.Length, () => Cifar10Reader.LoadFiles([path], "fuzz"), e => e is DataFormatException d && d.FilePath == path);
        }
        return c;
    }

    /// <summary>A safetensors file of several dtypes and metadata; mutations of the bytes and of the JSON header.</summary>
    public Counts Safetensors(int iterations)
    {
        var c = new Counts("safetensors");
        string path = Path.Combine(folder, "fuzz.safetensors");
        DeepTrain.Checkpoints.Safetensors.Save(path,
        [
            NamedArray.FromFloat32("conv.weight", Enumerable.Range(0, 18).Select(k => k * 0.5f).ToArray(), 2, 1, 3, 3),
            NamedArray.FromFloat32("conv.bias", [1f, -1f], 2),
            NamedArray.FromFloat16("fc.weight", [(Half)1, (Half)2, (Half)3], 3),
            NamedArray.FromUInt8("mask", [1, 0, 1, 1], 2, 2),
            NamedArray.FromInt64("bn.num_batches_tracked", [7]),
        ], new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "3" });
        byte[] seedFile = File.ReadAllBytes(path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(seedFile);
        string json = Encoding.UTF8.GetString(seedFile, 8, (int)headerLength);
        byte[] data = seedFile[(8 + (int)headerLength)..];
        for (int i = 0; i < iterations; i++)
        {
            var rng = new Random(Derive(seed, i, 4));
            byte[] m = i < Truncations(seedFile.Length).Length ? Truncate(seedFile, i, gzip: false)
                : rng.Next(2) == 0 ? Mutate(seedFile, rng, fields: [], lengthPrefix: true) : MutateHeader(json, data, rng);
            File.WriteAllBytes(path, m);
            Try(c, i, m.Length, () => DeepTrain.Checkpoints.Safetensors.Load(path), e => e is CheckpointFormatException f && f.Path == path);
        }
        return c;
    }

    // ------------------------------------------------------------------ running one read

    private static void Try(Counts c, int iteration, long fileBytes, Func<object> read, Func<Exception, bool> clean)
    {
        c.Tried++;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        try
        {
            read();
            c.Reads++;
        }
        catch (Exception e) when (clean(e))
        {
            c.CleanErrors++;
        }
        catch (Exception e)
        {
            c.Other++;
            c.Add(e.GetType().Name, $"iteration {iteration}: {e.GetType().Name}: {e.Message}\n  {string.Join("\n  ", (e.StackTrace ?? "").Split('\n').Take(4).Select(l => l.Trim()))}");
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > FixedAllowance + PerFileByte * fileBytes)
        {
            c.OverAllocated++;
            c.Add("allocation", $"iteration {iteration}: allocated {allocated} bytes for {fileBytes} bytes of file");
        }
        if (clock.Elapsed > TimeSpan.FromSeconds(2))
        {
            c.Slow++;
            c.Add("slow", $"iteration {iteration}: took {clock.Elapsed.TotalSeconds:F1} s");
        }
    }

    // ------------------------------------------------------------------ mutations

    /// <summary>Lengths to cut a file of <paramref name="length"/> bytes to: every one up to 96 (all headers), then every 97th, and length − 1.</summary>
    private static int[] Truncations(int length) =>
        [.. Enumerable.Range(0, Math.Min(length, 96)), .. Enumerable.Range(0, length / 97).Select(k => 96 + 97 * k).Where(k => k < length - 1), length - 1];

    /// <summary>The <paramref name="k"/>-th truncation of <paramref name="input"/>, gzip-compressed after cutting when asked.</summary>
    private static byte[] Truncate(byte[] input, int k, bool gzip)
    {
        byte[] cut = input[..Truncations(input.Length)[k]];
        return gzip ? Gzip(cut) : cut;
    }

    /// <summary>
    /// One or more byte-level mutations: bit flips, byte replacements, truncation, appended garbage,
    /// inserted or deleted runs, and big-endian 32-bit header fields (at <paramref name="fields"/>) or the
    /// little-endian 64-bit length prefix set to extremes or to a lie near the truth.
    /// </summary>
    private static byte[] Mutate(byte[] input, Random rng, int[] fields, bool lengthPrefix = false)
    {
        var b = new List<byte>(input);
        int rounds = 1 + (rng.Next(4) == 0 ? rng.Next(3) : 0);
        for (int round = 0; round < rounds; round++)
        {
            switch (rng.Next(8))
            {
                case 0:   // bit flips
                    for (int k = 1 + rng.Next(4); k > 0 && b.Count > 0; k--) { int p = rng.Next(b.Count); b[p] ^= (byte)(1 << rng.Next(8)); }
                    break;
                case 1:   // byte replacements, biased to the first 64 bytes where headers live
                    for (int k = 1 + rng.Next(8); k > 0 && b.Count > 0; k--) { int p = rng.Next(2) == 0 ? rng.Next(Math.Min(64, b.Count)) : rng.Next(b.Count); b[p] = Pick<byte>(rng, [0, 0xFF, 0x7F, 0x80, (byte)rng.Next(256)]); }
                    break;
                case 2:   // truncation, often inside the header
                    if (b.Count == 0) break;
                    int keep = rng.Next(2) == 0 ? rng.Next(Math.Min(40, b.Count)) : rng.Next(b.Count);
                    b.RemoveRange(keep, b.Count - keep);
                    break;
                case 3:   // appended garbage
                    for (int k = 1 + rng.Next(rng.Next(2) == 0 ? 8 : 5000); k > 0; k--) b.Add((byte)rng.Next(256));
                    break;
                case 4:   // inserted or deleted run
                    if (b.Count == 0) break;
                    int at = rng.Next(b.Count), len = 1 + rng.Next(16);
                    if (rng.Next(2) == 0) b.InsertRange(at, Enumerable.Range(0, len).Select(_ => (byte)rng.Next(256)));
                    else b.RemoveRange(at, Math.Min(len, b.Count - at));
                    break;
                case 5 or 6 when fields.Length > 0:   // a header field set to an extreme or off by a little
                    int f = Pick(rng, fields);
                    if (f + 4 > b.Count) break;
                    uint old = BinaryPrimitives.ReadUInt32BigEndian(b.GetRange(f, 4).ToArray());
                    long v = rng.Next(3) == 0 ? old + rng.Next(-3, 4) : Pick(rng, Extremes);
                    var span = new byte[4];
                    BinaryPrimitives.WriteUInt32BigEndian(span, unchecked((uint)v));
                    for (int k = 0; k < 4; k++) b[f + k] = span[k];
                    break;
                case 7 when lengthPrefix && b.Count >= 8:   // the safetensors header length lies
                    ulong n = BinaryPrimitives.ReadUInt64LittleEndian(b.GetRange(0, 8).ToArray());
                    ulong lie = rng.Next(3) switch
                    {
                        0 => (ulong)Pick(rng, Extremes),
                        1 => n + (ulong)rng.Next(-8, 9),
                        _ => Pick(rng, [ulong.MaxValue, 1UL << 63, 100_000_001UL, (ulong)b.Count, (ulong)b.Count - 8]),
                    };
                    var prefix = new byte[8];
                    BinaryPrimitives.WriteUInt64LittleEndian(prefix, lie);
                    for (int k = 0; k < 8; k++) b[k] = prefix[k];
                    break;
                default:   // a single random byte
                    if (b.Count > 0) b[rng.Next(b.Count)] = (byte)rng.Next(256);
                    break;
            }
        }
        return [.. b];
    }

    /// <summary>Edits of the safetensors JSON header as text, re-framed with a true (mostly) length prefix.</summary>
    private static byte[] MutateHeader(string json, byte[] data, Random rng)
    {
        string[] dtypes = ["\"F32\"", "\"F64\"", "\"F16\"", "\"BF16\"", "\"I64\"", "\"I32\"", "\"U8\"", "\"BOOL\"", "\"F8_E4M3\"", "\"\"", "\"f32\"", "5", "null", "[]", "{}"];
        string[] numbers = ["0", "1", "-1", "2147483647", "2147483648", "4294967296", "9223372036854775807", "18446744073709551615", "18446744073709551616", "1e30", "1.5", "-0", "\"3\"", "null", "99999999999999999999999"];
        string h = json;
        int rounds = 1 + rng.Next(3);
        for (int round = 0; round < rounds; round++)
        {
            switch (rng.Next(11))
            {
                case 0:   // wrong dtype
                    h = ReplaceOne(h, "\"F32\"", Pick(rng, dtypes), rng);
                    break;
                case 1:   // a number (shape dimension or data offset) set to an extreme
                    h = ReplaceNumber(h, Pick(rng, numbers), rng);
                    break;
                case 2:   // a number off by a little: shape × dtype ≠ span, gaps, overlaps
                    h = ReplaceNumber(h, null, rng);
                    break;
                case 3:   // duplicate a tensor entry (same name)
                    int s = h.IndexOf("\"conv.bias\"", StringComparison.Ordinal);
                    int e = s < 0 ? -1 : h.IndexOf('}', s);
                    if (e > 0) h = h.Insert(e + 1, "," + h[s..(e + 1)]);
                    break;
                case 4:   // swap two entries' offsets (unsorted / overlapping)
                    h = h.Replace("\"data_offsets\":[0,", "\"data_offsets\":[8,", StringComparison.Ordinal);
                    break;
                case 5:   // non-UTF-8 or control bytes inside a string
                    int q = h.IndexOf('"', rng.Next(h.Length));
                    if (q >= 0) h = h.Insert(q + 1, Pick(rng, ["\u00ff", "\u0001", "\\ud800", "\\", "\"", "\n"]));
                    break;
                case 6:   // deep nesting
                    int d = Pick(rng, [7, 8, 9, 64, 100_000]);
                    h = h.Insert(h.Length - 1, $",\"deep\":{new string('[', d)}{new string(']', d)}");
                    break;
                case 7:   // drop a character (breaks JSON or a field name)
                    h = h.Remove(rng.Next(h.Length), 1);
                    break;
                case 8:   // wrong JSON types for fields
                    h = ReplaceOne(h, "\"shape\":[", Pick(rng, ["\"shape\":\"x\",\"y\":[", "\"shape\":{\"a\":[", "\"shape\":[[", "\"shape\":[-"]), rng);
                    break;
                case 9:   // metadata of the wrong kind
                    h = ReplaceOne(h, "\"__metadata__\":{", Pick(rng, ["\"__metadata__\":{\"n\":1,", "\"__metadata__\":[{", "\"__metadata__\":{\"format\":\"pt\",", "\"__metadata__\":null,\"x\":{"]), rng);
                    break;
                default:  // a tensor without one of its fields
                    h = ReplaceOne(h, Pick(rng, ["\"dtype\"", "\"shape\"", "\"data_offsets\""]), "\"other\"", rng);
                    break;
            }
        }
        byte[] header = Encoding.UTF8.GetBytes(h);
        if (h.Contains('\u00ff')) header = header.Select(x => x == 0xC3 ? (byte)0xFF : x).ToArray();   // a raw 0xFF byte: invalid UTF-8
        ulong length = rng.Next(10) == 0 ? (ulong)header.Length + (ulong)rng.Next(-4, 5) : (ulong)header.Length;
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    private static string ReplaceOne(string s, string what, string with, Random rng)
    {
        var hits = new List<int>();
        for (int p = s.IndexOf(what, StringComparison.Ordinal); p >= 0; p = s.IndexOf(what, p + 1, StringComparison.Ordinal)) hits.Add(p);
        if (hits.Count == 0) return s;
        int at = Pick(rng, hits.ToArray());
        return s[..at] + with + s[(at + what.Length)..];
    }

    /// <summary>Replaces one run of digits with <paramref name="with"/>, or with a value one or two away.</summary>
    private static string ReplaceNumber(string s, string? with, Random rng)
    {
        var runs = new List<(int Start, int Length)>();
        for (int p = 0; p < s.Length; p++)
        {
            if (!char.IsAsciiDigit(s[p]) || (p > 0 && s[p - 1] == '"')) continue;
            int q = p;
            while (q < s.Length && char.IsAsciiDigit(s[q])) q++;
            runs.Add((p, q - p));
            p = q;
        }
        if (runs.Count == 0) return s;
        var (start, length) = runs[rng.Next(runs.Count)];
        string value = with ?? Math.Max(0, long.Parse(s.AsSpan(start, length)) + rng.Next(-2, 3)).ToString();
        return s[..start] + value + s[(start + length)..];
    }

    /// <summary>A per-iteration seed that is the same in every process (HashCode.Combine is randomised per process).</summary>
    private static int Derive(int seed, int iteration, int format) => unchecked(seed * 1_000_003 + iteration * 7919 + format * 104_729);

    private static T Pick<T>(Random rng, T[] items) => items[rng.Next(items.Length)];

    private static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var g = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) g.Write(raw);
        return ms.ToArray();
    }
}
