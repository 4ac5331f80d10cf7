"""Write `travel-expense-policy.pdf` from the text below (a development tool; the PDF is committed).

Run from the repository root with a throw-away fpdf2, which is not a project dependency:

    uv run --no-project --with fpdf2==2.8.9 python examples/make_policy_pdf.py
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

TITLE = "Harbourline Travel and Expense Policy"
SUBTITLE = "Policy FIN-07, version 4.2, effective 1 March 2025. Owner: Finance. Applies to all Harbourline employees."

# (level, heading, paragraphs); level 1 = section, level 2 = subsection.
SECTIONS: list[tuple[int, str, list[str]]] = [
    (1, "1. Purpose and scope", [
        "This policy sets out how Harbourline employees plan, book and claim business travel and other "
        "business expenses. It exists so that people can travel safely and comfortably, so that the "
        "company spends money as carefully as if it were each employee's own, and so that every claim can "
        "be checked by our auditors.",
        "The policy applies to all employees, interns and contractors who are allowed to claim expenses "
        "under their contract. Guests travelling at Harbourline's request, such as job candidates, are "
        "booked by the People team under the same rules.",
    ]),
    (1, "2. Approval before travel", [
        "Every business trip needs approval from your line manager before anything is booked. Trips longer "
        "than five working days, all international trips outside the European Union, and any trip with an "
        "estimated cost above EUR 3,000 also need approval from your department director.",
        "Request approval in the travel portal by creating a trip request with the purpose, the dates and "
        "an estimated cost. Bookings made without an approved trip request are not reimbursed, except in an "
        "emergency that your manager confirms in writing afterwards.",
    ]),
    (1, "3. Booking travel", [
        "Book flights, trains, hotels and rental cars through the Harbourline travel portal, which applies "
        "our negotiated rates and keeps a record of where travellers are. Book at least 14 days ahead for "
        "trips within Europe and 21 days ahead for intercontinental trips; late bookings are allowed but "
        "your manager sees the reason you give.",
    ]),
    (2, "3.1 Air travel", [
        "Fly economy class on flights with a scheduled duration under six hours. Premium economy is allowed "
        "on flights of six hours or more. Business class is allowed only on flights of more than ten hours "
        "and needs approval from a vice president in advance.",
        "Choose the lowest logical fare: the cheapest flight that leaves within two hours of the time you "
        "need. One checked bag is reimbursed. Seat selection fees are reimbursed on flights over three "
        "hours. Air miles and loyalty points earned on business trips belong to the traveller, but they may "
        "never influence the choice of airline.",
    ]),
    (2, "3.2 Rail travel and sustainability", [
        "Harbourline prefers rail to air. For any journey where the train takes less than five hours door to "
        "door, or the distance is under 500 km, you must take the train unless your manager approves a flight "
        "for a documented reason. Standard class is the default; first class is allowed for journeys longer "
        "than three hours, because it makes working on the train practical.",
        "The company offsets the emissions of all flights booked through the portal. Travellers do not need "
        "to buy offsets themselves, and offsets bought privately are not reimbursed.",
    ]),
    (2, "3.3 Hotels", [
        "Book a standard single room in a business hotel close to where you will be working. The nightly "
        "limit, including taxes and breakfast, is EUR 160 in most cities and EUR 240 in London, Paris, "
        "Zurich, New York, San Francisco and Tokyo. If a trade fair or event raises local prices, the portal "
        "shows an adjusted limit; above that limit you need your manager's approval in the trip request.",
        "Staying with friends or family instead of a hotel is welcome. In that case you may claim a flat "
        "EUR 35 per night to cover a thank-you gift or meal for your host, without receipts.",
    ]),
    (2, "3.4 Rental cars and private cars", [
        "Rent a car only when it is cheaper than public transport and taxis, or when there is no practical "
        "alternative. Rent compact or economy cars, electric where available, and decline the extra "
        "insurance offered at the desk: Harbourline's corporate policy already covers rental cars.",
        "Using your private car for business is reimbursed at EUR 0.30 per kilometre, which covers fuel, "
        "wear and insurance. Parking and tolls are reimbursed with receipts. Commuting between home and your "
        "usual office is never reimbursable.",
    ]),
    (1, "4. Meals and daily allowance", [
        "On business trips with an overnight stay you receive a daily allowance instead of claiming "
        "individual meals. The allowance is EUR 45 per day within your home country and EUR 70 per day "
        "abroad. On the days you travel out and back, you receive 60 per cent of the daily allowance.",
        "If a meal is provided, for example by a conference or a client, reduce the allowance by 20 per cent "
        "for breakfast, 30 per cent for lunch and 40 per cent for dinner. Day trips without an overnight stay "
        "do not earn an allowance, but a meal during a day trip of more than eight hours can be claimed "
        "with a receipt up to EUR 25.",
        "Alcohol is not reimbursable, except as part of client entertainment within the limits of section 5.",
    ]),
    (1, "5. Client entertainment and gifts", [
        "Entertaining clients and partners is allowed when it has a clear business purpose. The limit is "
        "EUR 80 per person, including the Harbourline attendees, drinks, taxes and tip. The most senior "
        "Harbourline employee present pays and claims the expense, and the claim must list the names and "
        "companies of everyone who attended and the business purpose.",
        "Gifts to clients must not be worth more than EUR 50 per person per year. Never offer gifts or "
        "entertainment to public officials without written approval from the Legal team, whatever the value.",
    ]),
    (1, "6. Local transport", [
        "Use public transport where it is practical. Taxis and ride-hailing are reimbursed when public "
        "transport is unavailable, unsafe, or much slower, for example late at night, when carrying heavy "
        "equipment, or on the way to and from an airport with luggage. Shared ride options are encouraged. "
        "Electric scooters and bike sharing are reimbursed like public transport.",
    ]),
    (1, "7. Claiming expenses", [
        "Submit expense claims in the expense app within 30 days of the end of the trip or of the day the "
        "expense was incurred. Claims submitted later than 90 days are not reimbursed, because they can no "
        "longer be booked in the right financial period.",
    ]),
    (2, "7.1 Receipts", [
        "Attach an itemised receipt for every expense of EUR 25 or more. A credit card slip alone is not a "
        "receipt, because it does not show what was bought. Photograph receipts in the expense app; you do "
        "not need to keep the paper originals unless the receipt is from outside the European Union, in which "
        "case keep the originals for six months for VAT recovery.",
        "If a receipt is lost, complete the missing receipt declaration in the app, describing the expense and "
        "why there is no receipt. Missing receipt declarations are accepted for up to EUR 150 per year per "
        "employee; above that, lost receipts are not reimbursed.",
    ]),
    (2, "7.2 Corporate card", [
        "Employees who travel more than four times a year receive a Harbourline corporate card. Use it for all "
        "business expenses and never for personal purchases; a personal charge made by mistake must be "
        "repaid within 15 days and declared in the expense app. Card transactions appear in the expense app "
        "automatically, and you only need to add the receipt and the purpose.",
        "The card may be used for cash withdrawals only abroad, where cards are not widely accepted, and up "
        "to EUR 200 per trip.",
    ]),
    (2, "7.3 Reimbursement", [
        "Approved claims are paid with the next monthly salary if they are approved by the 20th of the month, "
        "and otherwise with the salary of the month after. Your manager approves claims; claims above EUR "
        "2,000 are also checked by Finance before payment.",
    ]),
    (1, "8. Expenses that are not reimbursed", [
        "Harbourline does not reimburse personal expenses, even during a business trip. This includes "
        "minibar items, in-flight entertainment, hotel films, fines for parking or speeding, lost luggage or "
        "personal items, laundry on trips shorter than six nights, upgrades paid for personally, travel for "
        "partners or family, and personal travel insurance.",
    ]),
    (1, "9. Safety and duty of care", [
        "Your safety comes first. Book through the portal so that the security team can find you if "
        "something happens where you are. Before travelling to a country rated high risk by the security "
        "team, complete the online travel security briefing and get approval from the Chief Operating Officer.",
        "All employees on business trips are covered by Harbourline's travel insurance, including medical "
        "treatment abroad and repatriation. The insurance card is in the travel portal. In an emergency, call "
        "the 24-hour assistance line printed on the card first, then inform your manager.",
        "If you fall ill or are injured during a trip, you may extend your stay or return early at "
        "Harbourline's cost; the extra costs do not need prior approval.",
    ]),
    (1, "10. Combining business and personal travel", [
        "You may add personal days to a business trip, for example a weekend, as long as the business purpose "
        "remains the main reason for the trip and the combined trip does not cost Harbourline more. Any extra "
        "cost of flights, hotels or rental cars for the personal days is yours, and travel insurance covers "
        "only the business part of the trip.",
    ]),
    (1, "11. Breaches of this policy", [
        "Expenses outside this policy are not reimbursed. Deliberately false claims are treated as fraud and "
        "lead to disciplinary action up to dismissal. If you are unsure whether something is allowed, ask "
        "the Finance team at expenses@harbourline.example before you spend the money, not afterwards.",
        "Finance reviews this policy every year. Suggestions for changes are welcome through the same address.",
    ]),
]  # fmt: skip


class PolicyPdf(FPDF):
    """A4 pages with a running footer (which the PDF parser must recognise and drop)."""

    def footer(self) -> None:
        """Title and page number at the bottom of every page."""
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, f"{TITLE} - page {self.page_no()}", align="C")


def main() -> None:
    """Lay the sections out with larger bold headings, as a word processor would."""
    pdf = PolicyPdf(format="A4")
    pdf.set_title(TITLE)
    pdf.set_author("Harbourline Finance")
    pdf.set_creation_date(datetime(2025, 3, 1, tzinfo=UTC))  # reproducible output
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=18)
    pdf.multi_cell(0, 9, TITLE)
    pdf.ln(1)
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5.5, SUBTITLE)
    for level, heading, paragraphs in SECTIONS:
        pdf.ln(4 if level == 1 else 2)
        pdf.set_font("Helvetica", style="B", size=14 if level == 1 else 12)
        pdf.multi_cell(0, 7, heading)
        pdf.ln(1)
        pdf.set_font("Helvetica", size=10)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 5.5, paragraph)
            pdf.ln(2)
    target = Path(__file__).with_name("travel-expense-policy.pdf")
    pdf.output(str(target))
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
