import CBLASBench
import Kernels
import TestSupport
import Testing

@Suite struct OpenBLASTests {
    @Test("the benchmarks' OpenBLAS peer computes the same product as the reference")
    func openblas() throws {
        var rng = SeededRNG(seed: 3)
        let a = randomTensor([70, 90], &rng), b = randomTensor([90, 50], &rng)
        let c = Tensor(shape: [70, 50])
        cb_sgemm(2, 70, 50, 90, a.data, 90, b.data, 50, c.data, 50)
        #expect(relativeError(c, Reference.gemm(a, b, bias: nil)) < 1e-5)
    }
}
