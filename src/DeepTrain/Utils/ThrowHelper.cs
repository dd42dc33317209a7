using System.Diagnostics.CodeAnalysis;
using DeepTrain.Tensors;

namespace DeepTrain.Utils;

/// <summary>One place that builds the argument errors of the operations, so messages read alike.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void DestinationTooShort(string name) => throw new ArgumentException($"destination '{name}' is too short", name);

    [DoesNotReturn]
    public static void ShapeMismatch(string op, string what, Shape expected, Shape actual)
        => throw new ArgumentException($"{op}: {what} has shape {actual}, expected {expected}");

    [DoesNotReturn]
    public static void Invalid(string op, string message) => throw new ArgumentException($"{op}: {message}");

    /// <summary>Throws unless <paramref name="t"/> has shape <paramref name="expected"/>.</summary>
    public static void CheckShape(string op, string what, Tensor t, Shape expected)
    {
        if (t.Shape != expected) ShapeMismatch(op, what, expected, t.Shape);
    }

    /// <summary>Throws unless both tensors have the same element count.</summary>
    public static void CheckSameElements(string op, string a, Tensor ta, string b, Tensor tb)
    {
        if (ta.Elements != tb.Elements) Invalid(op, $"{a} {ta.Shape} and {b} {tb.Shape} differ in size");
    }

    /// <summary>Throws unless the tensor is fp32.</summary>
    public static void CheckFloat32(string op, string what, Tensor t)
    {
        if (t.DType != DType.Float32) Invalid(op, $"{what} is {t.DType}, expected Float32");
    }
}
