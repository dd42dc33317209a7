namespace DeepTrain.Backends.Cpu;

/// <summary>How the CPU backend computes 3×3, stride-1, ungrouped convolutions (forward and data gradient).</summary>
internal enum CpuConvAlgorithm
{
    /// <summary>Winograd F(2×2, 3×3) where it measured faster (docs/architecture.md), implicit im2col elsewhere.</summary>
    Auto,
    /// <summary>Always the im2col GEMM path: the bits of releases before the Winograd path.</summary>
    Im2Col,
    /// <summary>Winograd wherever the geometry allows, whatever the shape, layout or instruction set (tests, measurements).</summary>
    Winograd,
}
