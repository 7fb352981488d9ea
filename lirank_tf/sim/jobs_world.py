"""The latent world of the Jobs simulator: titles, skills, companies, members and job postings.

Five entity vocabularies (titles, skills, companies, industries, seniority levels) carry the
~40 categorical features of the Jobs models (LiRank §5.3). Titles have unit-norm latent
factors and a skill profile; companies belong to industries and have an attractiveness;
members have a current title, desired titles, skills, a company, a seniority and behavioural
propensities; job postings have a title, company, seniority range and required skills.
"""

from __future__ import annotations

import dataclasses

import numpy as np

NUM_SENIORITIES = 7


def _near(rng: np.random.Generator, similarity: np.ndarray, count: int,
          sharpness: float = 6.0) -> np.ndarray:
    """``count`` distinct indices drawn with probability ~ exp(sharpness * similarity)."""
    weights = np.exp(sharpness * (similarity - similarity.max()))
    return rng.choice(len(similarity), size=min(count, len(similarity)), replace=False,
                      p=weights / weights.sum())


@dataclasses.dataclass
class Jobs:
    """Job postings (arrays indexed by job)."""

    title: np.ndarray
    company: np.ndarray
    seniority: np.ndarray
    min_seniority: np.ndarray
    max_seniority: np.ndarray
    required_skills: list[np.ndarray]
    preferred_skills: list[np.ndarray]
    similar_titles: list[np.ndarray]
    salary: np.ndarray
    posted_day: np.ndarray


def concat_jobs(parts: list[Jobs]) -> Jobs:
    fields = {}
    for field in dataclasses.fields(Jobs):
        values = [getattr(p, field.name) for p in parts]
        fields[field.name] = ([v for chunk in values for v in chunk] if isinstance(values[0], list)
                              else np.concatenate(values))
    return Jobs(**fields)


class JobsWorld:
    """Entities of the jobs marketplace; every list-valued attribute is a list of int arrays."""

    def __init__(self, num_members: int, num_titles: int, num_skills: int, num_companies: int,
                 num_industries: int, latent_dim: int, rng: np.random.Generator) -> None:
        self.rng = rng
        factor = rng.normal(size=(num_titles, latent_dim))
        self.title_factor = factor / np.linalg.norm(factor, axis=1, keepdims=True)
        self.title_similarity = self.title_factor @ self.title_factor.T
        self.title_seniority = rng.integers(0, NUM_SENIORITIES, num_titles)
        skill_factor = rng.normal(size=(num_skills, latent_dim))
        skill_affinity = self.title_factor @ skill_factor.T
        self.title_skills = [np.argsort(-row)[:12] for row in skill_affinity]
        self.industry_peers = [rng.choice(num_industries, 2, replace=False)
                               for _ in range(num_industries)]
        self.company_industry = rng.integers(0, num_industries, num_companies)
        self.company_attractiveness = rng.normal(0.0, 0.5, num_companies)
        self.company_size = rng.lognormal(5.0, 1.5, num_companies)
        self.company_main_title = rng.integers(0, num_titles, num_companies)
        self.company_competitors = [self._competitors(c) for c in range(num_companies)]
        self.company_top_skills = [self.title_skills[t][:3] for t in self.company_main_title]

        n = num_members
        self.member_title = rng.integers(0, num_titles, n)
        similarity = self.title_similarity
        self.member_past_titles = [_near(rng, similarity[t], rng.integers(1, 4)) for t in self.member_title]
        self.member_desired_titles = [_near(rng, similarity[t], 2) for t in self.member_title]
        self.member_skills = [
            np.unique(np.concatenate([rng.choice(self.title_skills[t], 6, replace=False),
                                      rng.integers(0, num_skills, 2)]))
            for t in self.member_title]
        self.member_endorsed_skills = [rng.choice(s, min(3, len(s)), replace=False)
                                       for s in self.member_skills]
        self.member_company = rng.integers(0, num_companies, n)

        def some(high: int, low_count: int, high_count: int) -> list[np.ndarray]:
            return [rng.integers(0, high, rng.integers(low_count, high_count)) for _ in range(n)]

        self.member_past_companies = some(num_companies, 1, 4)
        self.member_followed_companies = some(num_companies, 0, 5)
        self.member_industry = self.company_industry[self.member_company]
        self.member_followed_industries = some(num_industries, 0, 3)
        self.member_seniority = np.clip(self.title_seniority[self.member_title] + rng.integers(-1, 2, n),
                                        0, NUM_SENIORITIES - 1)
        self.member_desired_seniority = np.minimum(self.member_seniority + rng.integers(0, 2, n),
                                                   NUM_SENIORITIES - 1)
        self.member_activity = rng.lognormal(0.0, 0.7, n)
        self.member_click_propensity = rng.normal(0.0, 0.5, n)
        self.member_apply_propensity = rng.normal(0.0, 0.5, n)
        self.member_years = rng.gamma(2.0, 4.0, n)
        self.num_titles, self.num_skills = num_titles, num_skills
        self.num_companies, self.num_industries = num_companies, num_industries

    def _competitors(self, company: int) -> np.ndarray:
        same = np.flatnonzero(self.company_industry == self.company_industry[company])
        same = same[same != company]
        pool = same if len(same) >= 3 else np.arange(len(self.company_industry))
        return self.rng.choice(pool, 3, replace=False)

    def similar_titles(self, title: int, count: int) -> np.ndarray:
        """``count`` titles near ``title`` (excluding it), drawn by similarity."""
        similarity = self.title_similarity[title].copy()
        similarity[title] = -np.inf
        return _near(self.rng, similarity, count)

    def member_preference(self, member: np.ndarray) -> np.ndarray:
        """Unit-norm taste of each member: current title plus desired titles."""
        taste = np.stack([self.title_factor[self.member_title[m]]
                          + self.title_factor[self.member_desired_titles[m]].sum(axis=0) for m in member])
        return taste / np.linalg.norm(taste, axis=1, keepdims=True)

    def post_jobs(self, count: int, day: int) -> Jobs:
        rng = self.rng
        title = rng.integers(0, self.num_titles, count)
        seniority = np.clip(self.title_seniority[title] + rng.integers(-1, 2, count), 0,
                            NUM_SENIORITIES - 1)
        return Jobs(
            title=title, company=rng.integers(0, self.num_companies, count), seniority=seniority,
            min_seniority=np.maximum(seniority - rng.integers(0, 2, count), 0),
            max_seniority=np.minimum(seniority + rng.integers(0, 2, count), NUM_SENIORITIES - 1),
            required_skills=[rng.choice(self.title_skills[t][:8], 4, replace=False) for t in title],
            preferred_skills=[rng.choice(self.title_skills[t][4:], 3, replace=False) for t in title],
            similar_titles=[self.similar_titles(t, 3) for t in title],
            salary=rng.lognormal(11.0, 0.4, count) * (1.0 + 0.15 * seniority),
            posted_day=np.full(count, day))
