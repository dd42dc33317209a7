using System.Text;

namespace DeepTrain.Tensors;

/// <summary>
/// An immutable list of dimension sizes. Rank-4 shapes are always logical (N, C, H, W),
/// whatever the tensor's <see cref="Layout"/>.
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    private readonly int[]? _dims;

    /// <summary>Creates a shape; every dimension must be ≥ 0.</summary>
    /// <exception cref="ArgumentException">A dimension is negative.</exception>
    public Shape(params ReadOnlySpan<int> dims)
    {
        foreach (int d in dims)
            if (d < 0) throw new ArgumentException($"shape {Format(dims)} has a negative dimension", nameof(dims));
        _dims = dims.ToArray();
    }

    /// <summary>Shorthand for <c>new Shape(dims)</c>.</summary>
    public static Shape Of(params ReadOnlySpan<int> dims) => new(dims);

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims?.Length ?? 0;

    /// <summary>Dimension <paramref name="i"/>; negative indices count from the end.</summary>
    public int this[int i] => _dims![i < 0 ? Rank + i : i];

    /// <summary>The dimensions.</summary>
    public ReadOnlySpan<int> Dims => _dims;

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public long Elements
    {
        get
        {
            long e = 1;
            if (_dims is null) return 1;
            foreach (int d in _dims) e *= d;
            return e;
        }
    }

    /// <summary>Batch size of a rank-2 or rank-4 shape.</summary>
    public int N => this[0];
    /// <summary>Channels (dimension 1), or features of a rank-2 shape.</summary>
    public int C => this[1];
    /// <summary>Height of a rank-4 shape; 1 for rank 2.</summary>
    public int H => Rank >= 4 ? this[2] : 1;
    /// <summary>Width of a rank-4 shape; 1 for rank 2.</summary>
    public int W => Rank >= 4 ? this[3] : 1;

    /// <summary>The same shape with dimension 0 replaced by <paramref name="n"/>.</summary>
    public Shape WithBatch(int n)
    {
        var d = Dims.ToArray();
        d[0] = n;
        return new Shape(d);
    }

    /// <summary>A new shape with <paramref name="n"/> prepended (per-sample → per-batch).</summary>
    public Shape Prepend(int n)
    {
        var d = new int[Rank + 1];
        d[0] = n;
        Dims.CopyTo(d.AsSpan(1));
        return new Shape(d);
    }

    /// <summary>The shape without its first dimension.</summary>
    public Shape DropFirst() => new(Dims[1..]);

    /// <inheritdoc />
    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in Dims) h.Add(d);
        return h.ToHashCode();
    }
    /// <summary>Shape equality.</summary>
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    /// <summary>Shape inequality.</summary>
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    /// <summary>Formats as PyTorch prints sizes: <c>(2, 3, 9, 9)</c>.</summary>
    public override string ToString() => Format(Dims);

    private static string Format(ReadOnlySpan<int> dims)
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < dims.Length; i++) sb.Append(i == 0 ? "" : ", ").Append(dims[i]);
        if (dims.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }
}
