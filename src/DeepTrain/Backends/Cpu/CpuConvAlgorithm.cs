namespace DeepTrain.Backends.Cpu;

/// <summary>
/// How the CPU backend computes 3×3, stride-1, ungrouped convolutions (forward, data and filter gradient) and strided data
/// gradients (stride phases or col2im).
/// </summary>
internal enum CpuConvAlgorithm
{
    /// <summary>Winograd F(2×2, 3×3) and stride phases where they measured faster (docs/architecture.md), implicit im2col and col2im elsewhere.</summary>
    Auto,
    /// <summary>Always the im2col GEMM path, and col2im for strided data gradients: the bits of releases before the Winograd path.</summary>
    Im2Col,
    /// <summary>
    /// Winograd, and stride phases for strided data gradients, wherever the geometry allows, whatever the shape, layout or
    /// instruction set (tests, measurements).
    /// </summary>
    Winograd,
}
