/// `POST /account/domains`: one domain a line (commas and spaces also part them).
struct DomainsForm: AccountForm {
    var csrf: String?
    var domains: String?
}
