import DuetTestSupport
import Testing

@testable import DuetSend

/// The path tracker's directory-entry table against a dictionary, through inserts, replaces and
/// removals that force growth and backward shifts across the wrap-around.
@Suite struct ChildTableTests {
    @Test(arguments: 0..<8)
    func agreesWithADictionary(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var table = ChildTable()
        var model: [[UInt8]: UInt32] = [:]
        // Names by child, as the tracker's links would answer `matches`.
        var names: [UInt32: [UInt8]] = [:]
        var nextChild: UInt32 = 0
        func slot(_ name: [UInt8]) -> Int? {
            table.slot(hash: ChildTable.hash(parent: 7, name: name)) { names[$0] == name }
        }
        for _ in 0..<20_000 {
            // Few distinct names: many collisions in small tables, removals in long runs.
            let name = Array("n\(random.next() % 3_000)".utf8)
            switch random.next() % 3 {
            case 0, 1:
                let child = nextChild
                nextChild += 1
                names[child] = name
                if let slot = slot(name) {
                    names[table.child(at: slot)] = nil
                    table.replace(at: slot, child: child)
                } else {
                    table.insert(hash: ChildTable.hash(parent: 7, name: name), child: child)
                }
                model[name] = child
            default:
                if let slot = slot(name) {
                    table.remove(at: slot)
                    model[name] = nil
                } else {
                    #expect(model[name] == nil)
                }
            }
        }
        #expect(table.count == model.count)
        for (name, child) in model {
            #expect(slot(name).map { table.child(at: $0) } == child)
        }
        #expect(table.entries().count == model.count)
    }
}
