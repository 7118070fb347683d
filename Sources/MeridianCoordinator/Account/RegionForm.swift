/// `POST /account/region`: a region id, or `none` to unpin, and why.
struct RegionForm: AccountForm {
    var csrf: String?
    var region: String?
    var reason: String?
}
