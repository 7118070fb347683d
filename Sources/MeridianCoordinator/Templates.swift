import Foundation
import Mustache

/// The coordinator's HTML templates (`Templates/`): the public pages and the customer's account page, with the
/// partials they share. Mustache escapes every value it puts in the HTML.
enum PageTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        guard let directory = Bundle.module.url(forResource: "Templates", withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        else { preconditionFailure("the page templates are missing from the build") }
        for file in files where file.pathExtension == "mustache" {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { preconditionFailure("cannot read \(file.path)") }
            do {
                try library.register(text, named: file.deletingPathExtension().lastPathComponent)
            } catch {
                preconditionFailure("template \(file.lastPathComponent) does not parse: \(error)")
            }
        }
        return library
    }()
}
